//! The one place where an error (ours, or one of actix-web's extractors') becomes a page or a
//! redirect, with the normal layout and cookie policy. It logs the cause once and never touches
//! the database: the header's signed-in user is whatever the extractors already found.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::Session;
use crate::cookies::SESSION_COOKIE;
use crate::web::errors::AppError;
use crate::web::extract::found_session;
use crate::web::pages::{ErrorPage, add_cookies, see_other, sign_in_path};
use crate::web::state::AppState;

/// Middleware: turns every error response into a page (or a redirect) under the cookie policy.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let Some(error) = response.response().error() else {
        return Ok(response.map_into_boxed_body());
    };
    let req = response.request();
    let page = match error.as_error::<AppError>() {
        Some(app_error) => {
            log(app_error);
            page_for(req, app_error)
        }
        None => {
            let status = response.status();
            tracing::debug!(%status, error = %error, "request refused");
            generic_page(req, status, found_session(req).as_ref())
        }
    };
    let (req, _) = response.into_parts();
    Ok(ServiceResponse::new(req, page))
}

/// Logs what the operator needs, with the whole cause chain, once.
fn log(error: &AppError) {
    match error {
        AppError::WithCookies { error, .. } => log(error),
        AppError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "request failed")
        }
        AppError::IdpUnavailable(cause) | AppError::SignInUnavailable(cause) => tracing::warn!(
            error = format!("{cause:#}"),
            "identity provider unavailable"
        ),
        AppError::DatabaseUnavailable(cause) => {
            tracing::warn!(error = format!("{cause:#}"), "database unavailable")
        }
        AppError::SignInFailed(failure) => tracing::info!(reason = %failure, "sign-in failed"),
        _ => {}
    }
}

const DATABASE_UNAVAILABLE: &str = "The app could not reach its database just now. Nothing \
     was changed, and nobody was signed out: try again in a moment.";

const FORBIDDEN: &str = "You are signed in, but this page is only for members of the admins \
     group. Ask an administrator to add you, then sign in again.";
const CSRF_REJECTED: &str = "The form was stale or was sent from another site, so nothing was \
     changed. Reload the page and try again.";
const SIGN_IN_UNAVAILABLE: &str = "The identity provider did not answer in time, so the sign-in \
     was not completed and nothing was changed. Try signing in again in a moment.";
const IDP_UNAVAILABLE: &str = "You are still signed in. This page needs the identity provider, \
     which did not answer in time. Try again in a moment.";

fn page_for(req: &HttpRequest, error: &AppError) -> HttpResponse {
    let state = AppState::of(req);
    let policy = &state.policy;
    let session = found_session(req);
    let page = |status, title, message: &str| {
        ErrorPage::new(&state, session.as_ref(), status, title, message.to_owned()).for_request(req)
    };
    match error {
        AppError::NotSignedIn { stale_cookie } => {
            let mut response = see_other(&sign_in_path(&state, &return_to_of(req, &state)));
            if *stale_cookie {
                add_cookies(&mut response, [policy.expire(SESSION_COOKIE)]);
            }
            response
        }
        AppError::SessionEnded => {
            let mut response = see_other(&sign_in_path(&state, &return_to_of(req, &state)));
            add_cookies(&mut response, policy.expire_everywhere());
            response
        }
        AppError::SignInFailed(failure) => {
            let title = "Sign-in did not complete";
            page(StatusCode::BAD_REQUEST, title, &failure.to_string())
                .offer_sign_in()
                .respond()
        }
        AppError::Forbidden => {
            page(StatusCode::FORBIDDEN, "Not for your account", FORBIDDEN).respond()
        }
        AppError::CsrfRejected => page(
            StatusCode::FORBIDDEN,
            "That form was not accepted",
            CSRF_REJECTED,
        )
        .respond(),
        AppError::SignInUnavailable(_) => {
            let title = "Sign-in could not be completed";
            page(StatusCode::SERVICE_UNAVAILABLE, title, SIGN_IN_UNAVAILABLE)
                .offer_sign_in()
                .retry_after()
                .respond()
        }
        AppError::IdpUnavailable(_) => {
            let title = "The identity provider could not be reached";
            page(StatusCode::SERVICE_UNAVAILABLE, title, IDP_UNAVAILABLE)
                .retry_after()
                .respond()
        }
        AppError::DatabaseUnavailable(_) => {
            let title = "The service is briefly unavailable";
            page(StatusCode::SERVICE_UNAVAILABLE, title, DATABASE_UNAVAILABLE)
                .retry_after()
                .respond()
        }
        AppError::NotFound => generic_page(req, StatusCode::NOT_FOUND, session.as_ref()),
        AppError::TooLarge(status, what) => ErrorPage::new(
            &state,
            None,
            *status,
            "The request was too large",
            format!("{what} Nothing was changed."),
        )
        .for_request(req)
        .respond(),
        AppError::Internal(_) => {
            generic_page(req, StatusCode::INTERNAL_SERVER_ERROR, session.as_ref())
        }
        AppError::WithCookies { error, cookies } => {
            let mut response = page_for(req, error);
            add_cookies(&mut response, cookies.iter().cloned());
            response
        }
    }
}

/// A page for errors without a story of their own: malformed requests, unknown routes, failures.
fn generic_page(req: &HttpRequest, status: StatusCode, session: Option<&Session>) -> HttpResponse {
    let state = AppState::of(req);
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
            "The server could not complete the request. Nothing you did caused it; please try \
             again.",
        ),
    };
    let page = ErrorPage::new(&state, session, status, title, message.into()).for_request(req);
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
        Some(pq) if req.method() == Method::GET => pq.as_str().to_owned(),
        _ => state.path("/"),
    }
}
