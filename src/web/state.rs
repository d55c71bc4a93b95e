//! `AppState`: what every handler can reach, built once at start-up. Built things, not settings.

use actix_web::{HttpRequest, web};
use url::Url;

use crate::auth::{AttemptStore, IdpClient, SessionStore};
use crate::cookies::CookiePolicy;

/// What every request handler can reach.
pub struct AppState {
    /// `APP_BASE_URL`, with the real port when the configured one was 0 (its path ends in `/`).
    pub base_url: Url,
    /// The path prefix every route is served under: `""`, or e.g. `"/app"`.
    pub base_path: String,
    pub policy: CookiePolicy,
    pub sessions: SessionStore,
    pub attempts: AttemptStore,
    pub idp: IdpClient,
}

impl AppState {
    /// An absolute path of the app: `path` (which starts with `/`) under the base path.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }

    /// The state of the app `req` belongs to, from middleware and extractors.
    pub fn of(req: &HttpRequest) -> web::Data<AppState> {
        req.app_data::<web::Data<AppState>>()
            .cloned()
            .expect("app::Application registers AppState on every app it builds")
    }
}
