//! `AppState`: what every handler can reach, built once at start-up. Built things, not settings.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use url::Url;

use crate::auth::refresh::Refresher;
use crate::auth::{AttemptStore, IdpClient, SessionStore};
use crate::cookies::CookiePolicy;
use crate::web::lifecycle::Lifecycle;

/// What every request handler can reach.
pub struct AppState {
    /// `APP_BASE_URL`, with the real port when the configured one was 0 (its path ends in `/`).
    pub base_url: Url,
    /// The path prefix every route is served under: `""`, or e.g. `"/app"`.
    pub base_path: String,
    pub policy: CookiePolicy,
    pub sessions: Arc<SessionStore>,
    pub attempts: Arc<AttemptStore>,
    pub idp: Arc<IdpClient>,
    /// Runs refreshes (one per session at a time) with the two above.
    pub refresher: Refresher,
    /// Requests in flight, and whether the app is shutting down (for `/readyz`).
    pub lifecycle: Lifecycle,
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
