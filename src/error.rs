//! `AppError` names what the user experiences; [`render_errors`] is the one place where an error
//! (ours or one of actix-web's extractors) becomes a page, with the normal layout and cookie policy.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::auth::Session;
use crate::auth::sign_in::SignInFailure;
use crate::cookies::{SESSION_COOKIE, SIGN_IN_COOKIE, append};
use crate::pages::{ErrorPage, see_other, sign_in_path};
use crate::startup::AppState;

/// What went wrong, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A protected page without a session: 303 to sign in, then back. `stale_cookie` when the
    /// browser sent a session cookie that names no live session; it is expired.
    #[error("not signed in")]
    NotSignedIn { stale_cookie: bool },
    /// The IdP refused the refresh token: the session is gone; every cookie is expired.
    #[error("the session has ended")]
    SessionEnded,
    /// Signed in, but not allowed here.
    #[error("forbidden")]
    Forbidden,
    /// A form without the session's CSRF token, or posted from another origin.
    #[error("the form's CSRF token or origin was not accepted")]
    CsrfRejected,
    /// The sign-in could not be completed.
    #[error("sign-in failed: {0}")]
    SignInFailed(#[from] SignInFailure),
    /// The IdP could not be reached or failed; nobody is signed out for it.
    #[error("the identity provider could not be reached")]
    IdpUnavailable(#[source] anyhow::Error),
    /// The IdP could not be reached to complete a sign-in (code exchange or its keys).
    #[error("the identity provider could not be reached to complete the sign-in")]
    SignInUnavailable(#[source] anyhow::Error),
    #[error("not found")]
    NotFound,
    /// A request over the size limits (see `limits`): 414 or 431, and a text saying which.
    #[error("request too large")]
    TooLarge(StatusCode, &'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<crate::auth::refresh::RefreshError> for AppError {
    fn from(error: crate::auth::refresh::RefreshError) -> Self {
        use crate::auth::refresh::RefreshError;
        match error {
            RefreshError::SessionEnded => Self::SessionEnded,
            RefreshError::Unreachable(cause) => Self::IdpUnavailable(cause),
            RefreshError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(anyhow::Error::new(error).context("rendering a template"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotSignedIn { .. } | Self::SessionEnded => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::SignInFailed(_) => StatusCode::BAD_REQUEST,
            Self::IdpUnavailable(_) | Self::SignInUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TooLarge(status, _) => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    // The real page is rendered by `render_errors`, which can reach the app state; this bare
    // response only carries the status until then.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}

/// Middleware: turns every error response into a page (or a redirect) under the cookie policy.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let Some(error) = response.response().error() else {
        return Ok(response.map_into_boxed_body());
    };
    let page = match error.as_error::<AppError>() {
        Some(app_error) => {
            log(app_error);
            let session = signed_in(response.request(), app_error).await;
            page_for(response.request(), app_error, session.as_ref())
        }
        None => {
            let status = response.status();
            tracing::debug!(%status, error = %error, "request refused");
            let session = crate::auth::sessions::current(response.request()).await;
            generic_page(response.request(), status, session.as_ref())
        }
    };
    let (req, _) = response.into_parts();
    Ok(ServiceResponse::new(req, page))
}

fn log(error: &AppError) {
    match error {
        AppError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "request failed")
        }
        AppError::IdpUnavailable(cause) | AppError::SignInUnavailable(cause) => tracing::warn!(
            error = format!("{cause:#}"),
            "identity provider unavailable"
        ),
        AppError::SignInFailed(failure) => tracing::info!(reason = %failure, "sign-in failed"),
        _ => {}
    }
}

/// The session for the page's header, for errors shown as pages (not for redirects to sign in).
async fn signed_in(req: &HttpRequest, error: &AppError) -> Option<Session> {
    match error {
        AppError::NotSignedIn { .. } | AppError::SessionEnded => None,
        _ => crate::auth::sessions::current(req).await,
    }
}

fn page_for(req: &HttpRequest, error: &AppError, session: Option<&Session>) -> HttpResponse {
    let state = app_state(req);
    let policy = &state.policy;
    match error {
        AppError::NotSignedIn { stale_cookie } => {
            let mut response = see_other(&sign_in_path(&state, &return_to_of(req, &state)));
            if *stale_cookie {
                append(&mut response, &policy.expire(SESSION_COOKIE));
            }
            response
        }
        AppError::SessionEnded => {
            let mut response = see_other(&sign_in_path(&state, &return_to_of(req, &state)));
            for cookie in policy.expire_everywhere() {
                append(&mut response, &cookie);
            }
            response
        }
        AppError::SignInFailed(failure) => {
            let mut response = ErrorPage::new(&state, session, StatusCode::BAD_REQUEST, "Sign-in did not complete", failure.to_string())
                .offer_sign_in()
                .respond();
            // The attempt is over; its cookie goes too. Unless the answer belonged to another
            // attempt: this browser's own (say, in another tab) may still complete.
            if !matches!(failure, SignInFailure::StateMismatch) {
                append(&mut response, &policy.expire(SIGN_IN_COOKIE));
            }
            response
        }
        AppError::Forbidden => ErrorPage::new(&state, session,
            StatusCode::FORBIDDEN,
            "Not for your account",
            "You are signed in, but this page is only for members of the admins group. Ask an administrator to add you, then sign in again.".into(),
        )
        .respond(),
        AppError::CsrfRejected => ErrorPage::new(&state, session,
            StatusCode::FORBIDDEN,
            "That form was not accepted",
            "The form was stale or was sent from another site, so nothing was changed. Reload the page and try again.".into(),
        )
        .respond(),
        AppError::SignInUnavailable(_) => {
            let mut response = ErrorPage::new(
                &state,
                session,
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in could not be completed",
                "The identity provider did not answer in time, so the sign-in was not completed and nothing was changed. Try signing in again in a moment.".into(),
            )
            .offer_sign_in()
            .retry_after()
            .respond();
            append(&mut response, &policy.expire(SIGN_IN_COOKIE));
            response
        }
        AppError::IdpUnavailable(_) => ErrorPage::new(&state, session,
            StatusCode::SERVICE_UNAVAILABLE,
            "The identity provider could not be reached",
            "You are still signed in. This page needs the identity provider, which did not answer in time. Try again in a moment.".into(),
        )
        .retry_after()
        .respond(),
        AppError::NotFound => generic_page(req, StatusCode::NOT_FOUND, session),
        AppError::TooLarge(status, what) => ErrorPage::new(
            &state,
            None,
            *status,
            "The request was too large",
            format!("{what} Nothing was changed."),
        )
        .respond(),
        AppError::Internal(_) => generic_page(req, StatusCode::INTERNAL_SERVER_ERROR, session),
    }
}

/// A page for errors without a story of their own: malformed requests, unknown routes, failures.
fn generic_page(req: &HttpRequest, status: StatusCode, session: Option<&Session>) -> HttpResponse {
    let state = app_state(req);
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "Page not found",
            "There is nothing at this address. Check the link, or start from the home page.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method not allowed",
            "This address does not accept that kind of request.",
        ),
        s if s.is_client_error() => (
            "The request was not understood",
            "Something in the address or the form was malformed, so nothing was changed.",
        ),
        _ => (
            "Something went wrong",
            "The server could not complete the request. Nothing you did caused it; please try again.",
        ),
    };
    let page = ErrorPage::new(&state, session, status, title, message.into());
    // After a server failure, signing in again is the one thing a person can always try.
    if status.is_server_error() {
        page.offer_sign_in()
    } else {
        page
    }
    .respond()
}

/// Where to come back to after signing in: the page asked for, if it was a page view.
fn return_to_of(req: &HttpRequest, state: &AppState) -> String {
    match req.uri().path_and_query() {
        Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_owned(),
        _ => state.path("/"),
    }
}

fn app_state(req: &HttpRequest) -> web::Data<AppState> {
    crate::auth::sessions::app_state(req)
}
