//! What every page shares: the `Layout` that `templates/base.html` renders (signed-in user,
//! sign-out form, the `app-config` block), rendering, redirects, cookies on a response, and the
//! error page.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use crate::auth::Session;
use crate::web::errors::AppError;
use crate::web::middleware::RequestId;
use crate::web::state::AppState;

/// What `base.html` needs besides the page's own content.
pub struct Layout {
    /// The base path every link starts with: `""`, or e.g. `"/app"`.
    pub base: String,
    /// The cookie policy as JSON, for `<script id="app-config" type="application/json">`.
    pub app_config: String,
    pub user: Option<LayoutUser>,
    /// Shown above the content, e.g. when the IdP could not be reached.
    pub notice: Option<String>,
    /// Whether the page may be stored by caches: never for a signed-in user's page, nor for a
    /// page that carries a one-time step of a sign-in.
    cacheable: bool,
}

/// The signed-in user, as the header shows them.
pub struct LayoutUser {
    pub name: String,
    pub csrf_token: String,
    pub is_admin: bool,
}

impl Layout {
    pub fn new(state: &AppState, session: Option<&Session>) -> Self {
        Self {
            base: state.base_path.clone(),
            app_config: state.policy.app_config_json().to_owned(),
            user: session.map(|session| LayoutUser {
                name: session.user.display_name().to_owned(),
                csrf_token: session.csrf_token.expose().clone(),
                is_admin: session.user.is_admin(),
            }),
            notice: None,
            cacheable: session.is_none(),
        }
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notice = Some(notice.into());
        self
    }

    /// Marks a page without a signed-in user as private all the same.
    pub fn private(mut self) -> Self {
        self.cacheable = false;
        self
    }
}

/// A page template: it has a layout, and whether caches may keep it follows from that.
pub trait Page: Template {
    fn layout(&self) -> &Layout;
}

/// Implements [`Page`] for page structs whose layout is their `layout` field.
macro_rules! page {
    ($($page:ty),+ $(,)?) => {
        $(impl $crate::web::pages::Page for $page {
            fn layout(&self) -> &$crate::web::pages::Layout {
                &self.layout
            }
        })+
    };
}
pub(crate) use page;

/// Renders a page; pages of a signed-in user are never stored by caches.
pub fn render(page: &impl Page) -> Result<HttpResponse, AppError> {
    let html = page.render()?;
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    if !page.layout().cacheable {
        response.insert_header(no_store());
    }
    Ok(response.body(html))
}

/// `303 See Other` to `location`, never cached: auth redirects carry one-time values.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(no_store())
        .finish()
}

/// Adds a `Set-Cookie` for each of `cookies` (beside any others of the same name). The cookies
/// come from the `CookiePolicy`; this only puts them on the response.
pub fn add_cookies<B>(
    response: &mut HttpResponse<B>,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) {
    for cookie in cookies {
        // Our cookies are ASCII names with base64url values: always a valid header.
        if let Err(error) = response.add_cookie(&cookie) {
            tracing::error!(cookie = cookie.name(), error = %error, "cookie not written");
        }
    }
}

/// `{base}/auth/sign-in?return_to=…`.
pub fn sign_in_path(state: &AppState, return_to: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{query}", state.path("/auth/sign-in"))
}

/// A Unix timestamp as `2026-01-31 23:59:59 UTC`. Computed and written by hand (the civil date
/// from days, Howard Hinnant's `civil_from_days`): `time`'s formatting, general and then through
/// `format!`, took a tenth of `/account`'s instructions for its three timestamps (BENCHMARKS.md).
pub fn timestamp(seconds: i64) -> String {
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let shifted = days + 719_468; // days from 0000-03-01, the start of a 400-year era
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return seconds.to_string();
    }
    let mut text = String::with_capacity(23);
    for (value, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, ' '),
        (of_day / 3600, 2, ':'),
        (of_day / 60 % 60, 2, ':'),
        (of_day % 60, 2, ' '),
    ] {
        for place in (0..width).rev() {
            let digit = value / 10_i64.pow(place) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        text.push(after);
    }
    text.push_str("UTC");
    text
}

/// A list for people: `a, b, c`, or `(none)`.
pub fn list(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// `templates/error.html`: what happened and what to do next; never internal details.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    pub show_sign_in: bool,
    /// The request's id, for the user to quote when reporting the problem (see
    /// `web::middleware::RequestId`).
    pub request_id: Option<String>,
    retry_after: bool,
}

page!(ErrorPage);

impl ErrorPage {
    pub fn new(
        state: &AppState,
        session: Option<&Session>,
        status: StatusCode,
        title: &'static str,
        message: String,
    ) -> Self {
        Self {
            layout: Layout::new(state, session),
            status,
            title,
            message,
            show_sign_in: false,
            request_id: None,
            retry_after: false,
        }
    }

    /// Shows `req`'s id, which its log lines carry too.
    pub fn for_request(mut self, req: &HttpRequest) -> Self {
        self.request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned());
        self
    }

    pub fn offer_sign_in(mut self) -> Self {
        self.show_sign_in = true;
        self
    }

    pub fn retry_after(mut self) -> Self {
        self.retry_after = true;
        self
    }

    /// The page with its status; an error page is never stored by caches.
    pub fn respond(mut self) -> HttpResponse {
        self.layout.cacheable = false;
        let (status, retry_after) = (self.status, self.retry_after);
        let mut response = match render(&self) {
            Ok(page) => page,
            // The error page failed to render: fall back to plain text rather than fail twice.
            Err(_) => HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .insert_header(no_store())
                .body(self.message),
        };
        *response.status_mut() = status;
        if retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn a_timestamp_reads_as_a_utc_date_and_time() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(timestamp(1_769_903_999), "2026-01-31 23:59:59 UTC");
        assert_eq!(timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(timestamp(4_107_542_400), "2100-03-01 00:00:00 UTC");
        assert_eq!(timestamp(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(timestamp(i64::MAX), i64::MAX.to_string());
        assert_eq!(timestamp(i64::MIN), i64::MIN.to_string());
    }
}
