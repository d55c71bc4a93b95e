//! Running the servers until a stop signal, then stopping without dropping work: on SIGTERM or
//! Ctrl-C, `/readyz` answers 503 at once, the app takes no new connection, the requests and
//! refreshes in flight finish within `SHUTDOWN_GRACE_SECONDS`, and only then do the servers stop.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use anyhow::Context;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::auth::IdpClient;
use crate::web::AppState;

/// SIGTERM (a service manager's stop) and SIGINT (Ctrl-C), listened for from start-up on: a
/// signal that arrives before the servers run still leads to a clean stop, not to the default
/// action (the process ends at once).
pub(super) struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(super) fn listen() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn received(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The servers of one `Application`, not yet running.
pub(super) struct Servers {
    pub app: Server,
    pub dev_idp: Option<Server>,
    pub metrics: Option<Server>,
}

/// A server running as a task of its own, and the handle that stops it.
struct Running {
    name: &'static str,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn spawn(name: &'static str, server: Server) -> Self {
        Self {
            name,
            handle: server.handle(),
            task: tokio::spawn(server),
        }
    }

    /// Waits for the server to stop by itself (a failure, or a stop handle used elsewhere).
    async fn stopped(&mut self) -> anyhow::Result<()> {
        let name = self.name;
        (&mut self.task)
            .await
            .with_context(|| format!("{name} stopped"))?
            .with_context(|| format!("{name} stopped"))
    }
}

/// Waits until `running`, if there is one, stops by itself.
async fn stopped(running: &mut Option<Running>) -> anyhow::Result<()> {
    match running {
        Some(running) => running.stopped().await,
        None => std::future::pending().await,
    }
}

/// Runs the servers until a stop signal (then stops them gracefully) or until one of them stops
/// by itself (then stops the others).
pub(super) async fn run(
    state: web::Data<AppState>,
    servers: Servers,
    mut signals: StopSignals,
    grace: Duration,
) -> anyhow::Result<()> {
    let mut app = Running::spawn("the app server", servers.app);
    let mut dev_idp = servers
        .dev_idp
        .map(|server| Running::spawn("the development IdP", server));
    let mut metrics = servers
        .metrics
        .map(|server| Running::spawn("the metrics listener", server));
    tokio::spawn(fetch_signing_keys(state.idp.clone()));

    let stopped_by_itself = tokio::select! {
        signal = signals.received() => Err(signal),
        ended = app.stopped() => Ok(ended),
        ended = stopped(&mut dev_idp) => Ok(ended),
        ended = stopped(&mut metrics) => Ok(ended),
    };
    let ended = match stopped_by_itself {
        Ok(ended) => {
            app.handle.stop(true).await;
            ended
        }
        Err(signal) => {
            if !stop_gracefully(&state, &app, &mut signals, signal, grace).await {
                // Out of time, or told twice: the process ends here and now, cutting short
                // whatever is left. Not by returning: while the runtime winds down, the workers'
                // threads would go on, and a request could still be answered (by an error page,
                // its refresh having lost what the runtime dropped).
                std::process::exit(0);
            }
            Ok(())
        }
    };
    // The app is done: the development IdP has no refresh left to answer, nobody to scrape.
    for other in dev_idp.iter().chain(metrics.iter()) {
        other.handle.stop(true).await;
    }
    ended
}

/// The shutdown: readiness off, no new connection, the requests in flight finished (those on
/// connections already open, a load balancer's probe of `/readyz` among them, are still
/// answered), the connections closed, every refresh in flight finished (each gives its lease
/// back), all within `grace`, or until a second signal (an operator who will not wait). Whether it
/// all finished.
async fn stop_gracefully(
    state: &AppState,
    app: &Running,
    signals: &mut StopSignals,
    signal: &str,
    grace: Duration,
) -> bool {
    tracing::info!(
        signal,
        grace_seconds = grace.as_secs(),
        "shutting down: finishing the requests and refreshes in flight"
    );
    state.lifecycle.start_draining();
    let deadline = Instant::now() + grace;
    app.handle.pause().await;
    let finishing = tokio::time::timeout_at(deadline, async {
        state.lifecycle.idle().await;
        // Closes the idle connections and those whose response is done; actix's own
        // `shutdown_timeout` (the same grace) bounds this step too.
        app.handle.stop(true).await;
        state.refresher.drain().await;
    });
    tokio::select! {
        finished = finishing => match finished {
            Ok(()) => {
                tracing::info!("stopped: nothing was left in flight");
                true
            }
            Err(_) => {
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    "stopping: SHUTDOWN_GRACE_SECONDS ran out with work still in flight"
                );
                false
            }
        },
        again = signals.received() => {
            tracing::warn!(signal = again, "stopping at once: a second signal");
            false
        }
    }
}

/// Fetches the IdP's signing keys once, in the background, so that `/readyz` can tell whether
/// sign-ins can be verified and the first one does not wait for them; while the IdP does not
/// answer, tries again, less and less often.
async fn fetch_signing_keys(idp: Arc<IdpClient>) {
    let mut delay = Duration::from_secs(1);
    loop {
        match idp.id_tokens.prime().await {
            Ok(()) => return,
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                retry_in_seconds = delay.as_secs(),
                "the identity provider's signing keys could not be fetched; not ready yet"
            ),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
