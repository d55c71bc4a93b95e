use actix_web::{HttpResponse, web};

use crate::startup::AppState;

/// GET /healthz: 200 when the app and its database answer.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match crate::db::ping(&state.pool).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(error) => {
            tracing::error!(error = %error, "health check: database did not answer");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
