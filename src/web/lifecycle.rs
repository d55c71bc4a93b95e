//! Whether the app is shutting down, and how many requests are in flight: `/readyz` answers 503
//! once it drains, and `app::Application` waits for the requests before it closes connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Shared by the middleware (which counts requests), `/readyz` and the shutdown.
#[derive(Clone, Default)]
pub struct Lifecycle(Arc<Inner>);

#[derive(Default)]
struct Inner {
    draining: AtomicBool,
    requests: AtomicUsize,
    idle: Notify,
}

impl Lifecycle {
    /// From now on `/readyz` says 503: load balancers send nothing new.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn request(&self) -> InFlight {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        InFlight(self.0.clone())
    }

    /// Waits until no request is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a request ending in between still wakes us.
            notified.as_mut().enable();
            if self.0.requests.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One request in flight; dropped when its response is ready (or the request is abandoned).
pub struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Cheap when nobody waits; checking `draining` first instead could miss a shutdown that
        // began between the two reads.
        if self.0.requests.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn idle_waits_for_the_last_request_in_flight() {
        let lifecycle = Lifecycle::default();
        let first = lifecycle.request();
        let second = lifecycle.request();
        lifecycle.start_draining();

        drop(first);
        let still_busy = tokio::time::timeout(Duration::from_millis(50), lifecycle.idle()).await;
        drop(second);
        let idle = tokio::time::timeout(Duration::from_secs(5), lifecycle.idle()).await;

        assert!(still_busy.is_err(), "one request was still in flight");
        assert!(idle.is_ok());
        assert!(lifecycle.is_draining());
    }
}
