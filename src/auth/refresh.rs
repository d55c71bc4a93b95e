//! Server-side token refresh. A request that needs the user's tokens calls [`fresh`]: when the
//! access token has expired or is about to, one request (across workers and processes, by a lease
//! in the session row) calls the token endpoint and the others wait for its result.

use std::time::Duration;

use crate::auth::SessionError;
use crate::auth::idp::{IdpClient, TokenError};
use crate::auth::sessions::{Refreshed, Session, SessionStore};
use crate::clock;

/// Refresh when the access token expires within this many seconds (or within half its
/// lifetime, for the short lifetimes a developer may give the development IdP).
pub const REFRESH_MARGIN_SECONDS: i64 = 60;
/// How long a refresh may hold the lease: longer than its worst case (the token call, a JWKS
/// fetch, each up to `auth::http::REQUEST_TIMEOUT`, and SQLite's 5 s busy wait, twice), so a
/// lease only lapses when its holder died.
const LEASE_SECONDS: i64 = 60;
/// How often a request waiting for another's refresh looks at the session row again.
const WAIT_STEP: Duration = Duration::from_millis(20);

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

/// `session` with an access token good for at least the refresh margin, refreshing if needed.
pub async fn fresh(
    idp: &IdpClient,
    sessions: &SessionStore,
    session: Session,
) -> Result<Session, SessionError> {
    let now = clock::now();
    if is_fresh(&session, now) {
        return Ok(session);
    }
    if sessions
        .take_refresh_lease(&session, now + LEASE_SECONDS)
        .await?
    {
        return refresh_holding_lease(idp, sessions, session).await;
    }
    // Another request holds the lease: wait for its result rather than call the IdP again.
    let give_up_at = now + LEASE_SECONDS + 5;
    loop {
        tokio::time::sleep(WAIT_STEP).await;
        match sessions.reload(&session).await? {
            Some(now_seen) if refreshed_since(&session, &now_seen) => return Ok(now_seen),
            Some(now_seen) if is_fresh(&now_seen, clock::now()) => return Ok(now_seen),
            // The lease was given back without new tokens: that refresh failed, and the requests
            // that waited for it share its outcome instead of each trying again.
            Some(now_seen) if now_seen.refresh_lease_until <= clock::now() => {
                return Err(SessionError::IdpUnreachable(anyhow::anyhow!(
                    "a concurrent refresh failed"
                )));
            }
            Some(_) => {}
            None => return Err(SessionError::Ended),
        }
        if clock::now() > give_up_at {
            return Err(SessionError::IdpUnreachable(anyhow::anyhow!(
                "waited too long for another request's refresh"
            )));
        }
    }
}

async fn refresh_holding_lease(
    idp: &IdpClient,
    sessions: &SessionStore,
    read_before: Session,
) -> Result<Session, SessionError> {
    // Another request may have refreshed between our read and taking the lease.
    let Some(session) = sessions.reload(&read_before).await? else {
        return Err(SessionError::Ended);
    };
    if refreshed_since(&read_before, &session) || is_fresh(&session, clock::now()) {
        sessions.release_refresh_lease(&session).await?;
        return Ok(session);
    }
    match exchange(idp, sessions, &session).await {
        Ok(refreshed) => {
            tracing::info!(user = %session.user.sub, "access token refreshed");
            // `None`: signed out while the refresh was under way.
            refreshed.ok_or(SessionError::Ended)
        }
        Err(SessionError::Ended) => {
            // invalid_grant ends the session cleanly: the user signs in again.
            sessions.end(&session).await?;
            tracing::info!(user = %session.user.sub, "refresh token refused; session ended");
            Err(SessionError::Ended)
        }
        Err(error) => {
            sessions.release_refresh_lease(&session).await?;
            Err(error)
        }
    }
}

/// Calls the token endpoint, verifies what it returns and stores it.
async fn exchange(
    idp: &IdpClient,
    sessions: &SessionStore,
    session: &Session,
) -> Result<Option<Session>, SessionError> {
    let Ok(refresh_token) = sessions.refresh_token(session) else {
        // Sealed under another APP_SECRET, or damaged: unusable for good, like invalid_grant.
        tracing::warn!(user = %session.user.sub, "stored refresh token does not decrypt; session ended");
        return Err(SessionError::Ended);
    };
    let tokens = idp
        .refresh(&refresh_token)
        .await
        .map_err(|error| match error {
            TokenError::InvalidGrant => SessionError::Ended,
            other => SessionError::IdpUnreachable(other.into()),
        })?;
    if let Some(rotated) = &tokens.refresh_token {
        // The IdP has retired the old refresh token: keep the new one whatever happens next.
        // (It is stored again with the other tokens below; this write is the one that counts
        // when verifying them fails.)
        sessions
            .store_rotated_refresh_token(session, rotated)
            .await?;
    }
    let claims = idp
        .id_tokens
        .verify(tokens.id_token.expose(), None)
        .await
        .map_err(|error| SessionError::IdpUnreachable(error.into()))?;
    if claims.sub != session.user.sub {
        return Err(SessionError::IdpUnreachable(anyhow::anyhow!(
            "the refreshed ID token names another user"
        )));
    }
    let refreshed = Refreshed {
        tokens: &tokens,
        claims: &claims,
        access_expires_at: tokens.expires_at(clock::now()),
    };
    Ok(sessions.store_refreshed(session, refreshed).await?)
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
}
