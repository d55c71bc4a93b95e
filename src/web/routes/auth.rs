use actix_web::cookie::SameSite;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::sign_in::{self, CallbackQuery};
use crate::auth::{return_to, sign_out as sign_out_flow};
use crate::cookies::{self, SESSION_COOKIE};
use crate::secrets::{Secret, constant_time_eq};
use crate::web::extract::MAX_SESSION_COOKIES;
use crate::web::pages::{Layout, add_cookies, page, render, see_other};
use crate::web::{AppError, AppState, MaybeSignedIn};

#[derive(Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// GET /auth/sign-in: starts a sign-in attempt and sends the browser to the IdP. Attempts
/// already in flight in this browser (other tabs) stay valid beside it.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    let return_to = return_to::or_default(query.return_to.as_deref(), &state.base_url);
    let request = sign_in::begin(&state.idp, &state.attempts, return_to).await?;
    let mut in_flight = cookies::sign_in_states(req.headers());
    in_flight.push(request.state.expose().clone());
    let mut response = see_other(request.url.as_str());
    add_cookies(&mut response, [state.policy.sign_in_attempts(&in_flight)]);
    Ok(response)
}

/// GET /auth/callback: the IdP sends the browser back here with a code (or an error).
pub async fn callback(
    req: HttpRequest,
    // Looked up for the error page's header; the sessions replaced are read below.
    _: MaybeSignedIn,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let in_flight = cookies::sign_in_states(req.headers());
    // The attempt answered is used up, whatever the outcome; the others stay in flight. An
    // answer for no attempt of this browser's changes nothing.
    let sign_in_cookie = sign_in::is_for_this_browser(&query, &in_flight).then(|| {
        let others: Vec<String> = in_flight
            .iter()
            .filter(|state| query.state.as_ref() != Some(*state))
            .cloned()
            .collect();
        state.policy.sign_in_attempts(&others)
    });
    let signed_in = sign_in::complete(
        &state.idp,
        &state.attempts,
        &state.sessions,
        &in_flight,
        &query,
    )
    .await
    .map_err(|error| AppError::from(error).with_cookies(sign_in_cookie.clone()))?;
    // A session the browser had before is over: the new sign-in replaces it. (Under a Strict
    // policy the browser does not send it on this cross-site request; that session then lives
    // on unused until it expires.)
    let earlier = cookies::read_all(req.headers(), SESSION_COOKIE);
    let earlier = &earlier[..earlier.len().min(MAX_SESSION_COOKIES)];
    sign_out_flow::sign_out_earlier(&state.idp, &state.sessions, earlier).await;
    let mut response = if state.policy.same_site() == SameSite::Strict {
        // This request is the end of a navigation that started at the IdP, another site; a
        // redirect would continue it, and the browser would withhold the new Strict session
        // cookie from the next page. A page of our own that moves on starts a same-site one.
        render(&ContinuePage {
            layout: Layout::new(&state, None).private(),
            return_to: signed_in.return_to.clone(),
        })?
    } else {
        see_other(&signed_in.return_to)
    };
    add_cookies(
        &mut response,
        std::iter::once(state.policy.session(signed_in.session_id.expose())).chain(sign_in_cookie),
    );
    Ok(response)
}

/// `templates/continue.html`: moves the browser on to `return_to` (SameSite=Strict only).
#[derive(Template)]
#[template(path = "continue.html")]
pub struct ContinuePage {
    layout: Layout,
    return_to: String,
}

page!(ContinuePage);

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf_token: Secret<String>,
}

/// POST /auth/sign-out: revokes, deletes the session, expires every cookie, then Cognito's logout.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeSignedIn(session): MaybeSignedIn,
    form: web::Form<SignOutForm>,
) -> Result<HttpResponse, AppError> {
    if !same_origin(&req, &state) {
        return Err(AppError::CsrfRejected);
    }
    let home = state.path("/");
    let location = match &session {
        Some(session)
            if constant_time_eq(form.csrf_token.expose(), session.csrf_token.expose()) =>
        {
            sign_out_flow::sign_out(&state.idp, &state.sessions, session).await?;
            state.idp.logout_url().as_str()
        }
        Some(_) => return Err(AppError::CsrfRejected),
        // Already signed out (another tab, or an expired session): still leave a clean jar.
        None => home.as_str(),
    };
    let mut response = see_other(location);
    add_cookies(&mut response, state.policy.expire_everywhere());
    Ok(response)
}

/// The request's `Origin`, when the browser sent one, is the app's own.
fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    match req.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .is_ok_and(|origin| origin == state.base_url.origin().ascii_serialization()),
    }
}
