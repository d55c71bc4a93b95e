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
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
