//! Server-side token refresh. A request that needs the user's tokens calls
//! [`Refresher::fresh`]: when the access token has expired or is about to, one refresh runs for
//! the session and every request that needs it waits for that one's outcome.
//!
//! - **One refresh per session everywhere.** Within this process, requests of one session share
//!   one refresh task and are woken by its outcome. Across processes sharing the database, a lease
//!   in the session row (a conditional `UPDATE`) lets one task call the IdP; tasks elsewhere watch
//!   the row until it shows the outcome, woken by the database's notification on PostgreSQL.
//! - **A refresh runs to its end.** It is a spawned task, not part of the request that started it:
//!   a browser that drops the connection cannot leave a rotated refresh token unstored or the
//!   lease held. The lease is given back on every path, errors included.
//! - **A crashed holder locks nobody out for long.** The lease is short ([`LEASE_SECONDS`]: the
//!   token call's timeout plus a margin) and renewed while the holder works, so it lapses within
//!   seconds of the holder dying, and whoever waits takes it over.
//! - **Fenced writes.** The lease carries a random token and every write of the refresh names it:
//!   a holder whose lease lapsed cannot overwrite the next holder's newer tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::auth::SessionError;
use crate::auth::http::REQUEST_TIMEOUT;
use crate::auth::id_token::IdTokenError;
use crate::auth::idp::{IdpClient, TokenError};
use crate::auth::sessions::{Lease, Refreshed, Session, SessionStore};
use crate::clock;
use crate::metrics::{self, Timer};

/// Refresh when the access token expires within this many seconds (or within half its
/// lifetime, for the short lifetimes a developer may give the development IdP).
pub const REFRESH_MARGIN_SECONDS: i64 = 60;
/// How long a lease lasts unless renewed: the token call's own timeout and a margin for the
/// database. The holder renews it every [`RENEW_EVERY`] while it works (the token call, then a
/// JWKS fetch that may take as long again), so a lease outlives its holder by at most this.
pub const LEASE_SECONDS: i64 = REQUEST_TIMEOUT.as_secs() as i64 + 5;
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How often a refresh waiting for another process's lease looks at the session row again, when
/// nothing announces the outcome (SQLite)...
const WAIT_STEP: Duration = Duration::from_millis(20);
/// ...and when the database announces it (PostgreSQL): the notification wakes the waiter, and
/// this only bounds the wait should one be missed.
const WAIT_STEP_NOTIFIED: Duration = Duration::from_millis(250);
/// The longest a refresh waits for another process's lease before giving up. A live holder
/// finishes well within it; a dead one's lease lapses within [`LEASE_SECONDS`].
const WAIT_LIMIT_SECONDS: i64 = 3 * LEASE_SECONDS;

/// Whether the session's access token is good for at least the refresh margin at `now`.
pub fn is_fresh(session: &Session, now: i64) -> bool {
    let issued_at = session.last_refresh_at.unwrap_or(session.signed_in_at);
    let lifetime = session.access_expires_at - issued_at;
    session.access_expires_at - now > REFRESH_MARGIN_SECONDS.min(lifetime / 2).max(0)
}

/// Whether `now_seen` shows a refresh that happened after `before` was read.
fn refreshed_since(before: &Session, now_seen: &Session) -> bool {
    now_seen.refresh_count > before.refresh_count
}

/// How a refresh ended, as every request that waited for it sees it.
#[derive(Clone)]
enum Outcome {
    Fresh(Session),
    Ended,
    Unreachable(Arc<anyhow::Error>),
    Internal(Arc<anyhow::Error>),
}

impl From<Result<Session, SessionError>> for Outcome {
    fn from(result: Result<Session, SessionError>) -> Self {
        match result {
            Ok(session) => Self::Fresh(session),
            Err(SessionError::Ended) => Self::Ended,
            Err(SessionError::IdpUnreachable(cause)) => Self::Unreachable(Arc::new(cause)),
            Err(SessionError::Internal(cause)) => Self::Internal(Arc::new(cause)),
        }
    }
}

impl From<Outcome> for Result<Session, SessionError> {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Fresh(session) => Ok(session),
            Outcome::Ended => Err(SessionError::Ended),
            Outcome::Unreachable(cause) => Err(SessionError::IdpUnreachable(shared(&cause))),
            Outcome::Internal(cause) => Err(SessionError::Internal(shared(&cause))),
        }
    }
}

/// A copy of a shared cause for one waiter, with its whole chain as the message; a database
/// that could not be reached still says so, so the waiter's page is "try again", not a 500.
fn shared(cause: &anyhow::Error) -> anyhow::Error {
    let text = format!("{cause:#}");
    if crate::db::is_unavailable(cause) {
        anyhow::Error::new(crate::db::Unavailable(text))
    } else {
        anyhow::anyhow!(text)
    }
}

/// Refreshes sessions, one task per session at a time.
#[derive(Clone)]
pub struct Refresher {
    inner: Arc<Inner>,
}

struct Inner {
    idp: Arc<IdpClient>,
    sessions: Arc<SessionStore>,
    /// The refresh under way for each session id hash; its outcome arrives on the channel.
    in_flight: Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>,
    /// Woken whenever a refresh leaves `in_flight`, for [`Refresher::drain`].
    finished: Notify,
}

impl Refresher {
    pub fn new(idp: Arc<IdpClient>, sessions: Arc<SessionStore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                idp,
                sessions,
                in_flight: Mutex::new(HashMap::new()),
                finished: Notify::new(),
            }),
        }
    }

    /// `session` with an access token good for at least the refresh margin, refreshing if
    /// needed. Dropping the returned future leaves the refresh running.
    pub async fn fresh(&self, session: Session) -> Result<Session, SessionError> {
        if is_fresh(&session, clock::now()) {
            return Ok(session);
        }
        let (mut outcome, started) = self.join_or_start(session);
        let _waiting = (!started).then(Timer::refresh_wait);
        loop {
            if let Some(outcome) = outcome.borrow_and_update().clone() {
                return outcome.into();
            }
            if outcome.changed().await.is_err() {
                // The task ended without an outcome: it panicked (and its lease will lapse).
                return Err(SessionError::Internal(anyhow::anyhow!(
                    "the refresh task stopped"
                )));
            }
        }
    }

    /// Waits until no refresh is under way in this process, for a shutdown: each one that
    /// finishes has given its lease back. New ones may still start; the caller bounds the wait.
    pub async fn drain(&self) {
        loop {
            let finished = self.inner.finished.notified();
            tokio::pin!(finished);
            // Registered before looking, so a refresh that ends in between still wakes us.
            finished.as_mut().enable();
            if self.lock_in_flight().is_empty() {
                return;
            }
            finished.await;
        }
    }

    fn lock_in_flight(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<Option<Outcome>>>> {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The outcome channel of the refresh under way for `session`, started if there is none, and
    /// whether this call started it.
    fn join_or_start(&self, session: Session) -> (watch::Receiver<Option<Outcome>>, bool) {
        let mut in_flight = self.lock_in_flight();
        if let Some(outcome) = in_flight.get(&session.id_hash) {
            return (outcome.clone(), false);
        }
        let (send, outcome) = watch::channel(None);
        in_flight.insert(session.id_hash.clone(), outcome.clone());
        let inner = self.inner.clone();
        // In the span of the request that started it: its log lines carry that request's id.
        let task = async move {
            let id_hash = session.id_hash.clone();
            let result = inner.refresh(session).await;
            send.send_replace(Some(result.into()));
            let mut in_flight = inner
                .in_flight
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if in_flight
                .get(&id_hash)
                .is_some_and(|outcome| outcome.same_channel(&send.subscribe()))
            {
                in_flight.remove(&id_hash);
            }
            drop(in_flight);
            inner.finished.notify_waiters();
        };
        tokio::spawn(task.in_current_span());
        (outcome, true)
    }
}

impl Inner {
    /// Refreshes `read_before` once across every process sharing the database.
    async fn refresh(&self, read_before: Session) -> Result<Session, SessionError> {
        let give_up_at = clock::now() + WAIT_LIMIT_SECONDS;
        // Set once another process holds the lease; recorded when this one stops waiting.
        let mut waiting = None;
        // Before the first try, so that an outcome announced between a try and the wait counts.
        let mut changes = self.sessions.watch(&read_before);
        loop {
            let until = clock::now() + LEASE_SECONDS;
            if let Some(lease) = self
                .sessions
                .take_refresh_lease(&read_before, until)
                .await?
            {
                drop(waiting.take());
                let result = self.holding_lease(&read_before, &lease).await;
                if let Err(error) = self
                    .sessions
                    .release_refresh_lease(&read_before, &lease)
                    .await
                {
                    // It lapses by itself within LEASE_SECONDS.
                    tracing::warn!(error = format!("{error:#}"), "refresh lease not given back");
                }
                return result;
            }
            // Another process holds the lease: wait for its outcome to be announced, or look.
            waiting.get_or_insert_with(Timer::refresh_wait);
            let step = if self.sessions.follows_changes() {
                WAIT_STEP_NOTIFIED
            } else {
                WAIT_STEP
            };
            changes.changed_or_after(step).await;
            let now = clock::now();
            match self.sessions.reload(&read_before).await? {
                None => return Err(SessionError::Ended),
                Some(now_seen) if refreshed_since(&read_before, &now_seen) => return Ok(now_seen),
                Some(now_seen) if is_fresh(&now_seen, now) => return Ok(now_seen),
                // Given back without new tokens: that refresh failed, and this one shares its
                // outcome instead of trying again at once.
                Some(now_seen) if now_seen.refresh_lease_until == 0 => {
                    return Err(SessionError::IdpUnreachable(anyhow::anyhow!(
                        "a concurrent refresh failed"
                    )));
                }
                // Still held, or lapsed (its holder died): try to take it again.
                Some(_) => {}
            }
            if now > give_up_at {
                return Err(SessionError::IdpUnreachable(anyhow::anyhow!(
                    "waited too long for another process's refresh"
                )));
            }
        }
    }

    /// The refresh itself, with the lease renewed for as long as it runs.
    async fn holding_lease(
        &self,
        read_before: &Session,
        lease: &Lease,
    ) -> Result<Session, SessionError> {
        let renew = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let until = clock::now() + LEASE_SECONDS;
                match self
                    .sessions
                    .renew_refresh_lease(read_before, lease, until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(user = %read_before.user.sub, "refresh lease lost while refreshing");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), "refresh lease not renewed")
                    }
                }
            }
        };
        let work = self.refresh_tokens(read_before, lease);
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result,
            // The lease was lost: the work goes on to its end all the same, its writes fenced.
            () = renew => work.await,
        }
    }

    async fn refresh_tokens(
        &self,
        read_before: &Session,
        lease: &Lease,
    ) -> Result<Session, SessionError> {
        // Another request may have refreshed between our read and taking the lease.
        let Some(session) = self.sessions.reload(read_before).await? else {
            return Err(SessionError::Ended);
        };
        if refreshed_since(read_before, &session) || is_fresh(&session, clock::now()) {
            return Ok(session);
        }
        match self.exchange(&session, lease).await {
            Ok(Some(refreshed)) => {
                metrics::refresh("ok");
                Ok(refreshed)
            }
            // Signed out while the refresh was under way.
            Ok(None) => {
                metrics::refresh("ended");
                Err(SessionError::Ended)
            }
            Err(SessionError::Internal(cause)) => {
                metrics::refresh("error");
                Err(SessionError::Internal(cause))
            }
            Err(SessionError::Ended) => {
                // The IdP will not refresh this session again: end it cleanly, and the user
                // signs in again.
                self.sessions.end(&session).await?;
                Err(SessionError::Ended)
            }
            Err(error) => Err(error),
        }
    }

    /// Calls the token endpoint, verifies what it returns and stores it. `Ended` when the IdP
    /// refuses the refresh token or returns tokens that fail verification: retrying cannot help.
    async fn exchange(
        &self,
        session: &Session,
        lease: &Lease,
    ) -> Result<Option<Session>, SessionError> {
        let user = &session.user.sub;
        let Ok(refresh_token) = self.sessions.refresh_token(session) else {
            // Sealed under another APP_SECRET, or damaged: unusable for good, like invalid_grant.
            tracing::warn!(%user, "stored refresh token does not decrypt; session ended");
            metrics::refresh("ended");
            return Err(SessionError::Ended);
        };
        let called_at = std::time::Instant::now();
        let answer = self.idp.refresh(&refresh_token).await;
        let token_call = called_at.elapsed();
        let tokens = match answer {
            Ok(tokens) => tokens,
            Err(TokenError::InvalidGrant) => {
                tracing::info!(%user, "refresh token refused (invalid_grant); session ended");
                metrics::refresh("invalid_grant");
                return Err(SessionError::Ended);
            }
            Err(TokenError::Refused(code)) => {
                tracing::warn!(%user, error = %code, "refresh refused; session ended");
                metrics::refresh("ended");
                return Err(SessionError::Ended);
            }
            Err(TokenError::Unreachable(cause)) => {
                metrics::refresh("unreachable");
                return Err(SessionError::IdpUnreachable(cause));
            }
        };
        if let Some(rotated) = &tokens.refresh_token {
            // The IdP has retired the old refresh token: keep the new one whatever happens next.
            // (It is stored again with the other tokens below; this write is the one that counts
            // when verifying them fails.)
            self.sessions
                .store_rotated_refresh_token(session, lease, rotated)
                .await?;
        }
        let claims = match self
            .idp
            .id_tokens
            .verify(tokens.id_token.expose(), None)
            .await
        {
            Ok(claims) => claims,
            Err(IdTokenError::JwksUnavailable(cause)) => {
                metrics::refresh("unreachable");
                return Err(SessionError::IdpUnreachable(cause));
            }
            Err(error) => {
                tracing::warn!(%user, check = %error, "refreshed ID token failed verification; session ended");
                metrics::refresh("verification_failed");
                return Err(SessionError::Ended);
            }
        };
        if claims.sub != session.user.sub {
            tracing::warn!(%user, "refreshed ID token names another user; session ended");
            metrics::refresh("verification_failed");
            return Err(SessionError::Ended);
        }
        let refreshed = Refreshed {
            access_expires_at: tokens.expires_at(clock::now()),
            tokens,
            claims,
        };
        let stored = self
            .sessions
            .store_refreshed(session, lease, &refreshed)
            .await?;
        // The token call's own time, beside which a refresh storm's added latency is judged.
        tracing::info!(
            %user,
            token_call_ms = token_call.as_secs_f64() * 1000.0,
            "access token refreshed"
        );
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sessions::test_row;

    fn session(signed_in_at: i64, access_expires_at: i64) -> Session {
        Session::from_row(test_row("h", signed_in_at, access_expires_at, 2))
    }

    #[test]
    fn a_token_is_refreshed_a_minute_before_expiry_or_at_half_a_short_lifetime() {
        let hour = session(0, 3600);
        let half_minute = session(0, 30);

        assert!(is_fresh(&hour, 3539));
        assert!(!is_fresh(&hour, 3540));
        assert!(is_fresh(&half_minute, 14));
        assert!(!is_fresh(&half_minute, 15));
        assert!(
            !is_fresh(&half_minute, 31),
            "an expired token is never fresh"
        );
    }

    #[test]
    fn every_waiter_of_a_refresh_that_could_not_reach_the_database_is_told_so() {
        let down =
            anyhow::Error::new(sqlx::Error::PoolTimedOut).context("taking the refresh lease");
        let bug = anyhow::anyhow!("no such column").context("storing the refreshed tokens");
        let outcome = |cause| Outcome::from(Err::<Session, _>(SessionError::Internal(cause)));
        let (down, bug) = (outcome(down), outcome(bug));

        let waiters: Vec<_> = (0..2)
            .map(|_| Result::<Session, SessionError>::from(down.clone()))
            .collect();
        let other = Result::<Session, SessionError>::from(bug);

        for waiter in waiters {
            let Err(SessionError::Internal(cause)) = waiter else {
                panic!("an internal failure stays one")
            };
            assert!(crate::db::is_unavailable(&cause), "{cause:#}");
            assert!(format!("{cause:#}").contains("taking the refresh lease"));
        }
        let Err(SessionError::Internal(cause)) = other else {
            panic!("an internal failure stays one")
        };
        assert!(
            !crate::db::is_unavailable(&cause),
            "a bug is not 'try again'"
        );
    }
}
