//! The metrics the app records, named in one place, each recorded by one call at its site. It goes
//! through the `metrics` crate's facade only: without a recorder (no `METRICS_LISTEN`) every call
//! is a no-op, and the domain never sees the Prometheus exporter (`web::metrics` installs it).
//!
//! The two calls of every request (`request`, `session_cache`) keep their handles: looking a
//! metric up in the recorder takes locks that the workers share, which cost more than the rest of
//! recording. Handles are kept only once [`keep_handles`] says a recorder is installed, since a
//! handle taken before that would record nothing, ever.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

// `::metrics` is the crate; this module shares its name.
use ::metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    histogram,
};

pub const REQUESTS: &str = "http_requests_total";
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
pub const SIGN_INS: &str = "sign_ins_total";
pub const SIGN_OUTS: &str = "sign_outs_total";
pub const REFRESHES: &str = "refreshes_total";
pub const REFRESH_WAIT: &str = "refresh_wait_seconds";
pub const IDP_REQUEST_DURATION: &str = "idp_request_duration_seconds";
pub const ACTIVE_SESSIONS: &str = "active_sessions";
pub const SESSION_CACHE: &str = "session_cache_lookups_total";
pub const FOLLOWING_CHANGES: &str = "session_changes_following";
pub const HOUSEKEEPING_DELETED: &str = "housekeeping_deleted_total";

/// The route label of a request that matched no route: never the raw path, whose values are
/// unbounded.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The help text of every metric, for the exporter to print.
pub fn describe() {
    describe_counter!(REQUESTS, "Requests answered, by route pattern and status");
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer a request, by route pattern"
    );
    describe_counter!(
        SIGN_INS,
        "Completed sign-ins at the callback, by outcome (ok, cancelled, refused, idp_unreachable, error)"
    );
    describe_counter!(
        SIGN_OUTS,
        "Sessions signed out, by outcome (ok, or not_revoked: ended here, but the IdP did not revoke its refresh token)"
    );
    describe_counter!(
        REFRESHES,
        "Token refreshes at the IdP, by outcome (ok, invalid_grant, unreachable, verification_failed, ended, error)"
    );
    describe_histogram!(
        REFRESH_WAIT,
        Unit::Seconds,
        "Time a request or refresh waited for a refresh that another one was running"
    );
    describe_histogram!(
        IDP_REQUEST_DURATION,
        Unit::Seconds,
        "Calls to the IdP, by endpoint (token, userinfo, revoke, jwks)"
    );
    describe_gauge!(
        ACTIVE_SESSIONS,
        "Sessions that have not expired, counted in the database at each scrape"
    );
    describe_counter!(
        SESSION_CACHE,
        "Session lookups by result: hit (the in-memory copy) or miss (a database read)"
    );
    describe_gauge!(
        FOLLOWING_CHANGES,
        "1 while other instances' session changes arrive as PostgreSQL notifications, 0 while that connection is down (the cache then re-reads every second)"
    );
    describe_counter!(
        HOUSEKEEPING_DELETED,
        "Rows the housekeeping deleted, by table (sessions: ended; sign_in_attempts: abandoned)"
    );
}

/// A request answered: `route` is the matched route pattern (or [`UNMATCHED_ROUTE`]).
pub fn request(route: &Arc<str>, status: u16, elapsed: Duration) {
    if !KEEP_HANDLES.load(Ordering::Relaxed) {
        // No recorder: each call is a no-op anyway.
        return;
    }
    thread_local! {
        /// Each worker's handles: by route, the duration and the count of each status.
        static ROUTES: RefCell<HashMap<Arc<str>, RouteHandles>> = RefCell::new(HashMap::new());
    }
    ROUTES.with_borrow_mut(|routes| {
        let handles = routes.entry(route.clone()).or_insert_with(|| RouteHandles {
            duration: histogram!(REQUEST_DURATION, "route" => route.clone()),
            by_status: Vec::new(),
        });
        handles.duration.record(elapsed);
        match handles.by_status.iter().find(|(known, _)| *known == status) {
            Some((_, requests)) => requests.increment(1),
            None => {
                let requests =
                    counter!(REQUESTS, "route" => route.clone(), "status" => status_label(status));
                requests.increment(1);
                handles.by_status.push((status, requests));
            }
        }
    });
}

/// Says that a recorder is installed: from now on the handles of every request are kept.
pub fn keep_handles() {
    KEEP_HANDLES.store(true, Ordering::Relaxed);
}

static KEEP_HANDLES: AtomicBool = AtomicBool::new(false);

struct RouteHandles {
    duration: Histogram,
    by_status: Vec<(u16, Counter)>,
}

/// The status as a label without formatting it: the usual ones are constants.
fn status_label(status: u16) -> ::metrics::SharedString {
    match status {
        200 => "200".into(),
        303 => "303".into(),
        304 => "304".into(),
        400 => "400".into(),
        403 => "403".into(),
        404 => "404".into(),
        500 => "500".into(),
        503 => "503".into(),
        other => other.to_string().into(),
    }
}

/// A sign-in completed at the callback, or not; `outcome` is one of those `describe` names.
pub fn sign_in(outcome: &'static str) {
    counter!(SIGN_INS, "outcome" => outcome).increment(1);
}

/// A session signed out; `outcome` is one of those `describe` names.
pub fn sign_out(outcome: &'static str) {
    counter!(SIGN_OUTS, "outcome" => outcome).increment(1);
}

/// A refresh at the IdP ended; `outcome` is one of those `describe` names.
pub fn refresh(outcome: &'static str) {
    counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// A session lookup served from the cache (`true`) or read from the database.
pub fn session_cache(hit: bool) {
    static HIT: OnceLock<Counter> = OnceLock::new();
    static MISS: OnceLock<Counter> = OnceLock::new();
    if !KEEP_HANDLES.load(Ordering::Relaxed) {
        return;
    }
    if hit {
        HIT.get_or_init(|| counter!(SESSION_CACHE, "result" => "hit"))
            .increment(1);
    } else {
        MISS.get_or_init(|| counter!(SESSION_CACHE, "result" => "miss"))
            .increment(1);
    }
}

/// Whether session changes of other instances arrive as notifications now.
pub fn following_session_changes(following: bool) {
    ::metrics::gauge!(FOLLOWING_CHANGES).set(if following { 1.0 } else { 0.0 });
}

/// The housekeeping deleted `rows` rows of `table`.
pub fn housekeeping_deleted(table: &'static str, rows: u64) {
    counter!(HOUSEKEEPING_DELETED, "table" => table).increment(rows);
}

/// The number of live sessions, as last counted.
pub fn active_sessions(count: u64) {
    ::metrics::gauge!(ACTIVE_SESSIONS).set(count as f64);
}

/// Records the time until it is dropped, into one of the histograms: `let _timer = …;` times a
/// whole function, whichever way it returns.
#[must_use = "the time is recorded when the timer is dropped"]
pub struct Timer {
    started: Instant,
    histogram: ::metrics::Histogram,
}

impl Timer {
    /// Times a call to the IdP's `endpoint`: `token`, `userinfo`, `revoke` or `jwks`.
    pub fn idp_call(endpoint: &'static str) -> Self {
        Self {
            started: Instant::now(),
            histogram: histogram!(IDP_REQUEST_DURATION, "endpoint" => endpoint),
        }
    }

    /// Times a wait for a refresh that another request (or process) is running.
    pub fn refresh_wait() -> Self {
        Self {
            started: Instant::now(),
            histogram: histogram!(REFRESH_WAIT),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed());
    }
}
