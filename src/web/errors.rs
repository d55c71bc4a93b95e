//! `AppError` names what the user experiences, and the domain's errors map onto it here, in one
//! place. `web::error_pages` turns each into a page.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::auth::SessionError;
use crate::auth::sign_in::{SignInError, SignInFailure};

/// What went wrong, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A protected page without a session: 303 to sign in, then back. `stale_cookie` when the
    /// browser sent a session cookie that names no live session; it is expired.
    #[error("not signed in")]
    NotSignedIn { stale_cookie: bool },
    /// The IdP no longer accepts the session's tokens: the session is gone; every cookie is
    /// expired.
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
    /// A request over the size limits (see `web::limits`): 414 or 431, and a text saying which.
    #[error("request too large")]
    TooLarge(StatusCode, &'static str),
    /// The database did not answer (down, restarting, or every connection busy for too long):
    /// nothing was changed, and the same request succeeds once it is back.
    #[error("the database could not be reached")]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// `error`, with cookies its page must set (from the cookie policy).
    #[error("{error}")]
    WithCookies {
        error: Box<AppError>,
        cookies: Vec<Cookie<'static>>,
    },
}

impl AppError {
    /// This error, with `cookies` set on its page.
    pub fn with_cookies(self, cookies: impl IntoIterator<Item = Cookie<'static>>) -> Self {
        let cookies: Vec<_> = cookies.into_iter().collect();
        if cookies.is_empty() {
            return self;
        }
        Self::WithCookies {
            error: Box::new(self),
            cookies,
        }
    }
}

impl From<anyhow::Error> for AppError {
    /// Our failure: the database's unavailability, or a bug.
    fn from(cause: anyhow::Error) -> Self {
        if crate::db::is_unavailable(&cause) {
            Self::DatabaseUnavailable(cause)
        } else {
            Self::Internal(cause)
        }
    }
}

impl From<SessionError> for AppError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Ended => Self::SessionEnded,
            SessionError::IdpUnreachable(cause) => Self::IdpUnavailable(cause),
            SessionError::Internal(cause) => Self::from(cause),
        }
    }
}

impl From<SignInError> for AppError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::Failed(failure) => Self::SignInFailed(failure),
            SignInError::IdpUnreachable(cause) => Self::SignInUnavailable(cause),
            SignInError::Internal(cause) => Self::from(cause),
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
            Self::IdpUnavailable(_) | Self::SignInUnavailable(_) | Self::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TooLarge(status, _) => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::WithCookies { error, .. } => error.status_code(),
        }
    }

    // The real page is rendered by `web::error_pages::render_errors`, which can reach the app
    // state; this bare response only carries the status until then.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}
