//! The Prometheus exporter: installs the recorder behind `crate::metrics` and serves
//! `GET /metrics` on `METRICS_LISTEN`, a listener of its own, never the app's public one.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::auth::SessionStore;

/// Histogram buckets, in seconds: from a cached page (well under a millisecond) to the IdP's
/// 5-second timeout and a refresh that waited for a lease.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often histogram samples are folded into their buckets. Without the exporter's own HTTP
/// listener nothing else does it, and samples would pile up between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's one Prometheus recorder, installed the first time an app asks for it. (Tests
/// run several apps in one process; they share it, as they share the tracing subscriber.)
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut handle = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = handle.as_ref() {
        return Ok(handle.clone());
    }
    let installed = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)?
        .install_recorder()?;
    crate::metrics::describe();
    crate::metrics::keep_handles();
    Ok(handle.insert(installed).clone())
}

/// The metrics server on `listener`: `GET /metrics` and nothing else. One worker is plenty for a
/// scraper; it stops with the app.
pub fn server(
    listener: TcpListener,
    handle: PrometheusHandle,
    sessions: Arc<SessionStore>,
) -> anyhow::Result<Server> {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let scrape = web::Data::new(Scrape { handle, sessions });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

struct Scrape {
    handle: PrometheusHandle,
    sessions: Arc<SessionStore>,
}

/// GET /metrics: the text format. Active sessions are counted here, at each scrape, so counting
/// costs nothing between scrapes.
async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    match scrape.sessions.count_live().await {
        Ok(count) => crate::metrics::active_sessions(count),
        Err(error) => tracing::warn!(
            error = format!("{error:#}"),
            "active sessions not counted for metrics"
        ),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(scrape.handle.render())
}
