//! `/account/sessions`: every session of the signed-in user, and ending the others, one or all.
//! The sessions are named by their public ids; what ending one means is `auth::sign_out`'s.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::{Session, sign_out};
use crate::secrets::{Secret, constant_time_eq};
use crate::web::pages::{Layout, page, render, see_other, timestamp};
use crate::web::routes::auth::same_origin;
use crate::web::user_agent;
use crate::web::{AppError, AppState, SignedIn};

/// `templates/account_sessions.html`.
#[derive(Template)]
#[template(path = "account_sessions.html")]
pub struct AccountSessionsPage {
    layout: Layout,
    /// This session first, then the others, the most recently signed in first.
    sessions: Vec<SessionLine>,
    csrf_token: String,
    has_others: bool,
}

page!(AccountSessionsPage);

/// One session as the page lists it.
pub struct SessionLine {
    public_id: String,
    browser: String,
    started: String,
    last_seen: String,
    this_one: bool,
}

impl SessionLine {
    fn new(session: &Session, current: &Session) -> Self {
        Self {
            public_id: session.public_id.clone(),
            browser: user_agent::describe(&session.user_agent),
            started: timestamp(session.signed_in_at),
            last_seen: timestamp(session.last_seen_at),
            this_one: session.id_hash == current.id_hash,
        }
    }
}

/// GET /account/sessions: the signed-in user's sessions, "this one" marked.
pub async fn sessions(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut sessions: Vec<SessionLine> = state
        .sessions
        .list_for_user(&session.user.sub)
        .await?
        .iter()
        .map(|other| SessionLine::new(other, &session))
        .collect();
    sessions.sort_by_key(|line| !line.this_one);
    render(&AccountSessionsPage {
        layout: Layout::new(&state, Some(&session)),
        has_others: sessions.iter().any(|line| !line.this_one),
        sessions,
        csrf_token: session.csrf_token.expose().clone(),
    })
}

/// The forms of the page: they carry the session's CSRF token.
#[derive(Deserialize)]
pub struct SessionsForm {
    /// Optional here so that a form without it is refused like a wrong one (403), not as
    /// malformed.
    csrf_token: Option<Secret<String>>,
}

/// POST /account/sessions/{id}/sign-out: ends the user's other session that `{id}` (its public
/// id) names. Another user's id, or one that names no session, is a 404 and changes nothing.
pub async fn sign_out_session(
    req: HttpRequest,
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    public_id: web::Path<String>,
    form: web::Form<SessionsForm>,
) -> Result<HttpResponse, AppError> {
    check_form(&req, &state, &session, &form)?;
    if !sign_out::sign_out_other(&state.idp, &state.sessions, &session, &public_id).await? {
        return Err(AppError::NotFound);
    }
    Ok(see_other(&state.path("/account/sessions")))
}

/// POST /account/sessions/sign-out-others: ends every session of the user but this one.
pub async fn sign_out_others(
    req: HttpRequest,
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    form: web::Form<SessionsForm>,
) -> Result<HttpResponse, AppError> {
    check_form(&req, &state, &session, &form)?;
    sign_out::sign_out_others(&state.idp, &state.sessions, &session).await?;
    Ok(see_other(&state.path("/account/sessions")))
}

/// The form came from a page of this session: its CSRF token, and the app's own `Origin` when
/// the browser sent one (as `/auth/sign-out` checks).
fn check_form(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    form: &SessionsForm,
) -> Result<(), AppError> {
    let token_matches = form
        .csrf_token
        .as_ref()
        .is_some_and(|token| constant_time_eq(token.expose(), session.csrf_token.expose()));
    if token_matches && same_origin(req, state) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}
