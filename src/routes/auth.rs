use actix_web::cookie::SameSite;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::sign_in::{self, CallbackQuery};
use crate::auth::{MaybeSignedIn, sign_out as sign_out_flow};
use crate::cookies::{self, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::error::AppError;
use crate::pages::{Layout, render, see_other};
use crate::secrets::constant_time_eq;
use crate::startup::AppState;

#[derive(Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// GET /auth/sign-in: starts a sign-in attempt and sends the browser to the IdP.
pub async fn sign_in(
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    let request = sign_in::begin(&state, query.return_to.as_deref()).await?;
    let mut response = see_other(request.url.as_str());
    cookies::append_all(
        &mut response,
        [state.policy.sign_in_attempt(&request.state)],
    );
    Ok(response)
}

/// GET /auth/callback: the IdP sends the browser back here with a code (or an error).
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let browser_state = cookies::read(req.headers(), SIGN_IN_COOKIE);
    let signed_in = sign_in::complete(&state, browser_state.as_deref(), &query).await?;
    // A session the browser had before is over: the new sign-in replaces it. (Under a Strict
    // policy the browser does not send it on this cross-site request; that session then lives
    // on unused until it expires.)
    for previous in cookies::read_all(req.headers(), SESSION_COOKIE) {
        if let Some(session) = state.sessions.find(&previous).await? {
            sign_out_flow::sign_out(&state, &session).await?;
        }
    }
    let mut response = if state.policy.same_site() == SameSite::Strict {
        // This request is the end of a navigation that started at the IdP, another site; a
        // redirect would continue it, and the browser would withhold the new Strict session
        // cookie from the next page. A page of our own that moves on starts a same-site one.
        render(
            &ContinuePage {
                layout: Layout::new(&state, None),
                return_to: signed_in.return_to.clone(),
            },
            true,
        )?
    } else {
        see_other(&signed_in.return_to)
    };
    cookies::append_all(
        &mut response,
        [
            state.policy.session(&signed_in.session_id),
            state.policy.expire(SIGN_IN_COOKIE),
        ],
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

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf_token: String,
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
        Some(session) if constant_time_eq(&form.csrf_token, &session.csrf_token) => {
            sign_out_flow::sign_out(&state, session).await?;
            state.idp.logout_url().as_str()
        }
        Some(_) => return Err(AppError::CsrfRejected),
        // Already signed out (another tab, or an expired session): still leave a clean jar.
        None => home.as_str(),
    };
    let mut response = see_other(location);
    cookies::append_all(&mut response, state.policy.expire_everywhere());
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
