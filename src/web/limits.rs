//! Request size limits, checked before any handler runs: a request over them gets a 4xx page and
//! changes nothing. (actix-web itself refuses more than 96 headers with 431.)

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;

use crate::web::errors::AppError;

/// Longest query string accepted (`return_to`, `code`, `state` are all far shorter).
pub const MAX_QUERY_BYTES: usize = 4096;
/// Largest `Cookie` header accepted: the app's three cookies need well under 1 KB.
pub const MAX_COOKIE_BYTES: usize = 8192;
/// Largest total of header names and values accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Middleware: refuses requests over the limits.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(error) = over_limits(&req) {
        return Ok(req.error_response(error).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn over_limits(req: &ServiceRequest) -> Option<AppError> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        return Some(AppError::TooLarge(
            StatusCode::URI_TOO_LONG,
            "The address (its query string) is too long.",
        ));
    }
    let cookie_bytes: usize = req
        .headers()
        .get_all(header::COOKIE)
        .map(|value| value.len())
        .sum();
    if cookie_bytes > MAX_COOKIE_BYTES {
        return Some(AppError::TooLarge(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Your browser sent more cookies than this app ever sets. Clear this site's cookies and try again.",
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(AppError::TooLarge(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "The request's headers are too large.",
        ));
    }
    None
}
