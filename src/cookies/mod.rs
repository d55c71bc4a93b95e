//! Cookies: the one policy that builds and expires every cookie (`policy`), the RFC 6265 scope
//! rules (`scope`), and reading what a request carries (`read`). Names are constants here.

mod policy;
mod read;
mod scope;

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

pub use policy::{CookiePolicy, CookieSettings, same_site_name};
pub use read::{read, read_all, sent_names};
pub use scope::{CookieScope, domain_covers, path_covers};

/// Holds the opaque session id. HttpOnly, persistent.
pub const SESSION_COOKIE: &str = "session";
/// Holds the `state` of a sign-in attempt between `/auth/sign-in` and `/auth/callback`. HttpOnly,
/// lives for the browser session; the server forgets the attempt after 10 minutes.
pub const SIGN_IN_COOKIE: &str = "sign_in";
/// The theme preference (`light` or `dark`), written by `static/app.js`. Readable by scripts.
pub const THEME_COOKIE: &str = "theme";
/// Every cookie the app owns: the ones sign-out expires.
pub const OWNED_COOKIES: [&str; 3] = [SESSION_COOKIE, SIGN_IN_COOKIE, THEME_COOKIE];

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
        let policy = &crate::auth::sessions::app_state(response.request()).policy;
        append_all(response.response_mut(), policy.expire_legacy(&duplicated));
    }
    Ok(response)
}

/// Adds a `Set-Cookie` for `cookie` to `response` (beside any others of the same name).
pub fn append(response: &mut HttpResponse<impl MessageBody>, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Adds a `Set-Cookie` for each of `cookies`.
pub fn append_all(
    response: &mut HttpResponse<impl MessageBody>,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) {
    for cookie in cookies {
        append(response, &cookie);
    }
}
