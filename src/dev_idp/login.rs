//! `/login`, the managed-login form: `GET` shows it (with the demo accounts, `login_hint` as the
//! username), `POST` checks the credentials and the `XSRF-TOKEN` cookie, starts a managed-login
//! session (the `cognito` cookie) and returns a code through `authorize::issue_code`.

use std::fmt;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::authorize::{AuthorizeParams, check_authorize, issue_code};
use super::http::{NO_STORE, Params, State, found, idp_cookie, set_cookie};
use super::state::{IdpState, LOGIN_TTL_SECONDS, Login};
use super::users;
use crate::clock::now;
use crate::secrets::{constant_time_eq, random_token};

#[derive(Template)]
#[template(path = "dev_idp/login.html")]
struct LoginPage {
    action: String,
    csrf: String,
    error: Option<&'static str>,
    username: String,
    /// The external identity provider asked for; `None` for the pool's own users (`COGNITO`).
    identity_provider: Option<String>,
    demo_users: Vec<(&'static str, &'static str, String)>,
}

/// The form, posting back to `/login` with the same query. An external `identity_provider` is
/// only named on the page: the development IdP signs its demo users in for every provider.
fn render_login(
    req: &HttpRequest,
    state: &IdpState,
    checked: &AuthorizeParams,
    error: Option<&'static str>,
    username: String,
) -> HttpResponse {
    let csrf = random_token(24);
    let page = LoginPage {
        action: format!("/login?{}", req.query_string()),
        csrf: csrf.clone(),
        error,
        username,
        identity_provider: checked
            .identity_provider
            .clone()
            .filter(|name| name != "COGNITO"),
        demo_users: users::DEMO_USERS
            .iter()
            .map(|user| {
                (
                    user.username,
                    user.password,
                    state.groups_of(user).join(", "),
                )
            })
            .collect(),
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, NO_STORE))
            .cookie(idp_cookie("XSRF-TOKEN", csrf, None))
            .body(html),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// GET /login: the managed-login form.
pub async fn login_page(
    req: HttpRequest,
    state: State,
    params: web::Query<Params>,
) -> HttpResponse {
    state.count("login");
    let checked = match check_authorize(&state, &params) {
        Ok(checked) => checked,
        Err(location) => return found(&location),
    };
    let username = checked.login_hint.clone().unwrap_or_default();
    render_login(&req, &state, &checked, None, username)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Written by hand so that neither the password nor the CSRF token can reach a log line.
impl fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginForm")
            .field("csrf", &"[redacted]")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// POST /login: checks the credentials, starts a managed-login session, returns a code.
pub async fn login_submit(
    req: HttpRequest,
    state: State,
    params: web::Query<Params>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    state.count("login:submit");
    let checked = match check_authorize(&state, &params) {
        Ok(checked) => checked,
        Err(location) => return found(&location),
    };
    let expected_csrf = req
        .cookie("XSRF-TOKEN")
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected_csrf.is_empty() || !constant_time_eq(&expected_csrf, &form.csrf) {
        return render_login(
            &req,
            &state,
            &checked,
            Some("Your session has expired. Please try again."),
            form.username.clone(),
        );
    }
    let Some(user) =
        users::find(&form.username).filter(|user| constant_time_eq(user.password, &form.password))
    else {
        return render_login(
            &req,
            &state,
            &checked,
            Some("Incorrect username or password."),
            form.username.clone(),
        );
    };
    let login = random_token(32);
    let auth_time = now();
    {
        let mut grants = state.grants.lock().expect("grants lock");
        // A new sign-in replaces the browser's managed-login session (as after `prompt=login`).
        if let Some(old) = req.cookie("cognito") {
            grants.logins.remove(old.value());
        }
        grants.logins.insert(
            login.clone(),
            Login {
                sub: user.sub.to_owned(),
                expires_at: auth_time + LOGIN_TTL_SECONDS,
                auth_time,
            },
        );
    }
    let mut response = issue_code(&state, &checked, user, auth_time);
    set_cookie(
        &mut response,
        idp_cookie("cognito", login, Some(LOGIN_TTL_SECONDS)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_form_never_shows_the_password_in_debug_output() {
        let form = LoginForm {
            csrf: "csrf-value".to_owned(),
            username: "demo".to_owned(),
            password: "demo-password".to_owned(),
        };

        let printed = format!("{form:?}");

        assert!(!printed.contains("demo-password"), "{printed}");
        assert!(!printed.contains("csrf-value"), "{printed}");
    }
}
