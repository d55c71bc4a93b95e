//! What every page shares: the `Layout` that `templates/base.html` renders (signed-in user,
//! sign-out form, the `app-config` block), rendering, redirects, and the error page.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use askama::Template;
use url::form_urlencoded;

use crate::auth::Session;
use crate::error::AppError;
use crate::startup::AppState;

/// What `base.html` needs besides the page's own content.
pub struct Layout {
    /// The base path every link starts with: `""`, or e.g. `"/app"`.
    pub base: String,
    /// The cookie policy as JSON, for `<script id="app-config" type="application/json">`.
    pub app_config: String,
    pub user: Option<LayoutUser>,
    /// Shown above the content, e.g. when the IdP could not be reached.
    pub notice: Option<String>,
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
                name: session
                    .user
                    .email
                    .clone()
                    .unwrap_or_else(|| session.user.username.clone()),
                csrf_token: session.csrf_token.clone(),
                is_admin: session.user.is_admin(),
            }),
            notice: None,
        }
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notice = Some(notice.into());
        self
    }
}

/// Renders a page. Pages of a signed-in user are never stored by caches.
pub fn render(page: &impl Template, signed_in: bool) -> Result<HttpResponse, AppError> {
    let html = page.render()?;
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    if signed_in {
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

/// `{base}/auth/sign-in?return_to=…`.
pub fn sign_in_path(state: &AppState, return_to: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{query}", state.path("/auth/sign-in"))
}

/// A Unix timestamp as `2026-01-31 23:59:59 UTC`.
pub fn timestamp(seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| seconds.to_string())
}

pub fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// `templates/error.html`: what happened and what to do next; never internal details.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub show_sign_in: bool,
    retry_after: bool,
}

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
            status: status.as_u16(),
            title,
            message,
            show_sign_in: false,
            retry_after: false,
        }
    }

    pub fn offer_sign_in(mut self) -> Self {
        self.show_sign_in = true;
        self
    }

    pub fn retry_after(mut self) -> Self {
        self.retry_after = true;
        self
    }

    pub fn respond(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        response
            .content_type("text/html; charset=utf-8")
            .insert_header(no_store());
        if self.retry_after {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        match self.render() {
            Ok(html) => response.body(html),
            // The error page failed to render: fall back to plain text rather than fail twice.
            Err(_) => response
                .content_type("text/plain; charset=utf-8")
                .body(self.message),
        }
    }
}
