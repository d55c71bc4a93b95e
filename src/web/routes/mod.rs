//! The route table, in the order of the README's, and one module per page or action.
//! `app::Application` mounts it under the base path of `APP_BASE_URL`.

mod account;
mod account_sessions;
mod admin;
mod assets;
mod auth;
mod diagnostics;
mod health;
mod home;

use actix_web::web;

use crate::web::errors::AppError;
use crate::web::extract::MaybeSignedIn;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/auth/sign-in", web::get().to(auth::sign_in))
        .route("/auth/callback", web::get().to(auth::callback))
        .route("/auth/sign-out", web::post().to(auth::sign_out))
        .route("/account", web::get().to(account::account))
        .route(
            "/account/sessions",
            web::get().to(account_sessions::sessions),
        )
        .route(
            "/account/sessions/sign-out-others",
            web::post().to(account_sessions::sign_out_others),
        )
        .route(
            "/account/sessions/{id}/sign-out",
            web::post().to(account_sessions::sign_out_session),
        )
        .route("/admin", web::get().to(admin::admin))
        .route("/diagnostics/cookies", web::get().to(diagnostics::cookies))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/app.js", web::get().to(assets::app_js))
        .route("/static/app.css", web::get().to(assets::app_css));
}

/// Everything outside the route table: a 404 page (with the header of whoever is signed in).
pub async fn not_found(_: MaybeSignedIn) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
