//! Liveness (`/healthz`: the process and its database answer) and readiness (`/readyz`: also
//! able to verify sign-ins, and not shutting down), for a service manager and a load balancer.

use actix_web::{HttpResponse, web};

use crate::web::AppState;

/// GET /healthz: 200 when the app and its database answer.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.sessions.ping().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "health check: database did not answer"
            );
            unavailable("database unavailable")
        }
    }
}

/// GET /readyz: 200 when the database answers and the IdP's signing keys have been fetched once;
/// 503 from the moment a shutdown begins, so a load balancer stops sending requests here.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.lifecycle.is_draining() {
        return unavailable("shutting down");
    }
    if !state.idp.id_tokens.is_ready() {
        return unavailable("the identity provider's signing keys are not fetched yet");
    }
    match state.sessions.ping().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "readiness check: database did not answer"
            );
            unavailable("database unavailable")
        }
    }
}

fn unavailable(reason: &'static str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain")
        .body(reason)
}
