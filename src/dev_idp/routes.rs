//! The development IdP's route table: Cognito's managed-login paths, the issuer's documents, and
//! the `/_dev/` control surface. The handlers live in one module per endpoint group.

use actix_web::web;

use super::POOL_ID;
use super::account::{logout, revoke, user_info};
use super::authorize::{authorize, error_page};
use super::control;
use super::discovery::{discovery, jwks};
use super::http::method_not_allowed;
use super::login::{login_page, login_submit};
use super::token::token;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(control::scope());
    cfg.route("/oauth2/authorize", web::get().to(authorize))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login_submit))
        .route("/oauth2/token", web::post().to(token))
        .route("/oauth2/token", web::route().to(method_not_allowed))
        .route("/oauth2/userInfo", web::get().to(user_info))
        .route("/oauth2/revoke", web::post().to(revoke))
        .route("/logout", web::get().to(logout))
        .route("/error", web::get().to(error_page))
        .route(
            &format!("/{POOL_ID}/.well-known/openid-configuration"),
            web::get().to(discovery),
        )
        .route(
            &format!("/{POOL_ID}/.well-known/jwks.json"),
            web::get().to(jwks),
        );
}
