//! Middleware around every route, besides the size limits (`web::limits`) and the error pages
//! (`web::error_pages`): the request id, a log span and the metrics of each request, the security
//! headers, and the expiry of duplicate cookies left by an earlier deployment's scope.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument;
use tracing::field::Empty;
use url::Url;

use crate::cookies::{OWNED_COOKIES, sent_names};
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::secrets::random_bytes;
use crate::web::pages::add_cookies;
use crate::web::state::AppState;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest incoming request id kept.
const MAX_REQUEST_ID: usize = 64;

/// The request's id: the caller's `X-Request-Id` when it is short and plain, else a new one.
/// Kept in the request's extensions, sent back on the response, in the request's log span, and
/// shown on error pages, so a user's report leads to its log lines.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    fn of(headers: &HeaderMap) -> Self {
        match headers.get(REQUEST_ID_HEADER) {
            Some(value) if is_plain_id(value.as_bytes()) => Self(value.clone()),
            _ => Self(new_request_id()),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only plain ASCII gets in (see `is_plain_id`).
        self.0.to_str().unwrap_or_default()
    }
}

/// A new id: 16 hex digits. An id need not be secret, only unique, so it comes from a sequence
/// per thread seeded once by the operating system (a system call per request cost more than the
/// rest of the middleware). Hex rather than `random_token`'s base64url: an id is in every log
/// line, and base64url ids would now and then spell `eyJ`, the start of every JWT, which the log
/// audits (`tests/app/secrets.rs`) rightly treat as a leaked token.
fn new_request_id() -> HeaderValue {
    thread_local! {
        static NEXT: Cell<u64> = Cell::new(u64::from_le_bytes(
            random_bytes(8).try_into().expect("8 random bytes"),
        ));
    }
    // SplitMix64: consecutive states are spread over all 64 bits, so ids look unrelated.
    let state = NEXT.with(|next| {
        let state = next.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        next.set(state);
        state
    });
    let mut mixed = state;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^= mixed >> 31;
    let mut hex = [0u8; 16];
    for (at, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[(mixed >> (60 - 4 * at) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&hex).expect("hex digits make a header value")
}

/// Letters, digits and `-_.`, 1 to 64 of them: nothing that could forge a log line or a header.
fn is_plain_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(byte))
}

/// Middleware, outermost: gives the request its id, runs it in a log span that carries the id,
/// method and route pattern (never the path's query, which may hold an authorization code; the
/// extractors add the user's `sub`, and the end adds status and latency), counts it as in flight
/// for the shutdown, records its metrics, and sends the id back.
pub async fn request_span<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let id = RequestId::of(req.headers());
    // The pattern, not the path: label values stay few, and no id in a path reaches the metrics.
    let known_route = known_route(req.path());
    let span = tracing::info_span!(
        "request",
        request_id = id.as_str(),
        method = %req.method(),
        route = known_route.as_deref(),
        user = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    let _in_flight = AppState::of(req.request()).lifecycle.request();
    req.extensions_mut().insert(id.clone());
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    }
    .as_u16();
    let route = match known_route {
        Some(route) => route,
        None => {
            let route = match &result {
                Ok(response) => learn_route(response.request()),
                Err(_) => UNMATCHED_ROUTE.into(),
            };
            span.record("route", &*route);
            route
        }
    };
    let elapsed = started.elapsed();
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request finished"));
    metrics::request(&route, status, elapsed);
    // An error that no inner layer made a response of (`render_errors` makes one of every error
    // it sees) is rendered by actix, without the header; it still had its log line and metrics.
    let mut response = result?;
    response.headers_mut().insert(REQUEST_ID_HEADER, id.0);
    Ok(response)
}

thread_local! {
    /// Per worker, the routes without parameters met so far, by path: their pattern is their
    /// path. Known before routing, so that every log line of the request carries it; asking actix
    /// before routing (`match_pattern` walks the whole route table) cost a tenth of a request.
    /// Paths of routes with parameters, and of no route, are never kept: the map stays as small as
    /// the route table, whatever paths are asked for.
    static ROUTES: RefCell<HashMap<Box<str>, Arc<str>>> = RefCell::new(HashMap::new());
}

fn known_route(path: &str) -> Option<Arc<str>> {
    ROUTES.with_borrow(|routes| routes.get(path).cloned())
}

/// The pattern of the route that answered `req` (cheap after routing), kept when it has no
/// parameters.
fn learn_route(req: &HttpRequest) -> Arc<str> {
    let Some(pattern) = req.match_pattern() else {
        return UNMATCHED_ROUTE.into();
    };
    let route: Arc<str> = pattern.into();
    if *route == *req.path() {
        ROUTES.with_borrow_mut(|routes| routes.insert(req.path().into(), route.clone()));
    }
    route
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_kept_only_when_short_and_plain() {
        let long = "a".repeat(65);
        let cases: [(&[u8], bool); 9] = [
            (b"abc-123_x.y", true),
            (b"0", true),
            (&[b'a'; 64], true),
            (long.as_bytes(), false),
            (b"", false),
            (b"has space", false),
            (b"new\nline", false),
            (b"quote\"d", false),
            ("caf\u{e9}".as_bytes(), false),
        ];

        for (id, plain) in cases {
            assert_eq!(is_plain_id(id), plain, "{:?}", String::from_utf8_lossy(id));
        }
    }
}
