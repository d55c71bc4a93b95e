//! Response and request shapes every endpoint group of the development IdP shares: Cognito's
//! JSON errors and headers, redirects, query building and the IdP's own cookies.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use url::Url;

use super::state::IdpState;

pub type State = web::Data<IdpState>;
pub type Params = HashMap<String, String>;

/// The `Cache-Control` Cognito sends on its JSON answers and its sign-in page.
pub const NO_STORE: &str = "no-cache, no-store, max-age=0, must-revalidate";

/// Any other method on a POST-only endpoint: an empty 405, as Cognito answers.
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .finish()
}

pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Cognito's OAuth error: HTTP 400 (401 for revoke's invalid_client) with `{"error":…}`.
pub fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> HttpResponse {
    let mut body = serde_json::json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = description.into();
    }
    json_response(status, &body)
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json;charset=UTF-8"))
        .insert_header((header::CACHE_CONTROL, NO_STORE))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body.to_string())
}

/// A 302, the status Cognito's browser-facing endpoints redirect with.
pub fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `base` with `pairs` added to its query; pairs with an empty value are left out.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A cookie of the IdP's own site: Path=/, HttpOnly, SameSite=Lax, as managed login's.
pub fn idp_cookie(name: &'static str, value: String, max_age: Option<i64>) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    if let Some(seconds) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(seconds));
    }
    cookie
}

pub fn set_cookie(response: &mut HttpResponse, cookie: Cookie<'static>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
