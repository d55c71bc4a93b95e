//! Middleware around every route, besides the size limits (`web::limits`) and the error pages
//! (`web::error_pages`): a log span per request, the security headers, and the expiry of
//! duplicate cookies left by an earlier deployment's scope.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};
use tracing::Instrument;
use url::Url;

use crate::cookies::{OWNED_COOKIES, sent_names};
use crate::web::pages::add_cookies;
use crate::web::state::AppState;

/// Middleware: every log line of a request carries its method and path (never its query, which
/// may hold an authorization code).
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = tracing::info_span!("request", method = %req.method(), path = %req.path());
    next.call(req).instrument(span).await
}

/// Headers on every response. The `app-config` block is JSON, not script, so no inline script
/// is ever needed; forms may post to the app, whose sign-out redirects on to the IdP's logout.
pub fn security_headers(base_url: &Url, idp_domain: &Url) -> DefaultHeaders {
    let idp_origin = idp_domain.origin().ascii_serialization();
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' {idp_origin}; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'"
    );
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", csp))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"));
    if base_url.scheme() == "https" {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Middleware: a request that carries two cookies of the same (owned) name is the sign of
/// overlapping scopes, left by an earlier deployment. Its response expires those names under every
/// legacy scope, so the current cookie is the only one left and nobody gets stuck.
pub async fn expire_duplicates(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let names = sent_names(req.headers());
    let duplicated: Vec<&'static str> = OWNED_COOKIES
        .into_iter()
        .filter(|owned| names.iter().filter(|name| name == owned).count() > 1)
        .collect();
    let mut response = next.call(req).await?;
    if !duplicated.is_empty() {
        let state = AppState::of(response.request());
        add_cookies(
            response.response_mut(),
            state.policy.expire_legacy(&duplicated),
        );
    }
    Ok(response)
}
