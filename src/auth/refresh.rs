//! Server-side token refresh. A request that needs the user's tokens calls [`fresh`]: when the
//! access token has expired or is about to, one request (across workers and processes, by a lease
//! in the session row) calls the token endpoint and the others wait for its result.

use std::time::Duration;

use crate::auth::idp::TokenError;
use crate::auth::sessions::Session;
use crate::clock;
use crate::db::{self, sessions::RefreshedTokens};
use crate::startup::AppState;

/// Refresh when the access token expires within this many seconds (or within half its
/// lifetime, for the short lifetimes a developer may give the development IdP).
pub const REFRESH_MARGIN_SECONDS: i64 = 60;
/// How long a refresh may hold the lease: longer than its worst case (the token call, a JWKS
/// fetch, each up to `auth::http::REQUEST_TIMEOUT`, and SQLite's 5 s busy wait, twice), so a
/// lease only lapses when its holder died.
const LEASE_SECONDS: i64 = 60;
/// How often a request waiting for another's refresh looks at the session row again.
const WAIT_STEP: Duration = Duration::from_millis(20);

/// Why fresh tokens could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The IdP refused the refresh token (`invalid_grant`): the session has been ended.
    #[error("the identity provider ended the session")]
    SessionEnded,
    /// The IdP could not be reached or failed; the session is kept and the next request retries.
    #[error("the identity provider could not be reached")]
    Unreachable(#[source] anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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
pub async fn fresh(state: &AppState, session: Session) -> Result<Session, RefreshError> {
    if is_fresh(&session, clock::now()) {
        return Ok(session);
    }
    let pool = state.sessions.pool();
    let now = clock::now();
    if db::sessions::take_refresh_lease(pool, session.id_hash(), now, now + LEASE_SECONDS)
        .await
        .map_err(anyhow::Error::from)?
    {
        return refresh_holding_lease(state, session).await;
    }
    // Another request holds the lease: wait for its result rather than call the IdP again.
    let give_up_at = now + LEASE_SECONDS + 5;
    loop {
        tokio::time::sleep(WAIT_STEP).await;
        match state.sessions.reload(&session).await? {
            Some(now_seen) if refreshed_since(&session, &now_seen) => return Ok(now_seen),
            Some(now_seen) if is_fresh(&now_seen, clock::now()) => return Ok(now_seen),
            // The lease was given back without new tokens: that refresh failed, and the requests
            // that waited for it share its outcome instead of each trying again.
            Some(now_seen) if now_seen.row.refresh_lease_until <= clock::now() => {
                return Err(RefreshError::Unreachable(anyhow::anyhow!(
                    "a concurrent refresh failed"
                )));
            }
            Some(_) => {}
            None => return Err(RefreshError::SessionEnded),
        }
        if clock::now() > give_up_at {
            return Err(RefreshError::Unreachable(anyhow::anyhow!(
                "waited too long for another request's refresh"
            )));
        }
    }
}

async fn refresh_holding_lease(
    state: &AppState,
    read_before: Session,
) -> Result<Session, RefreshError> {
    let pool = state.sessions.pool();
    // Another request may have refreshed between our read and taking the lease.
    let Some(session) = state.sessions.reload(&read_before).await? else {
        return Err(RefreshError::SessionEnded);
    };
    if refreshed_since(&read_before, &session) || is_fresh(&session, clock::now()) {
        db::sessions::release_refresh_lease(pool, session.id_hash())
            .await
            .map_err(anyhow::Error::from)?;
        return Ok(session);
    }
    match exchange(state, &session).await {
        Ok(tokens) => {
            let stored = db::sessions::store_refreshed_tokens(pool, session.id_hash(), &tokens)
                .await
                .map_err(anyhow::Error::from)?;
            if !stored {
                // Signed out while the refresh was under way.
                return Err(RefreshError::SessionEnded);
            }
            tracing::info!(user = %session.user.sub, "access token refreshed");
            state
                .sessions
                .reload(&session)
                .await?
                .ok_or(RefreshError::SessionEnded)
        }
        Err(RefreshError::SessionEnded) => {
            // SPEC "Tokens and sessions": invalid_grant ends the session cleanly.
            state.sessions.end(&session).await?;
            tracing::info!(user = %session.user.sub, "refresh token refused; session ended");
            Err(RefreshError::SessionEnded)
        }
        Err(error) => {
            db::sessions::release_refresh_lease(pool, session.id_hash())
                .await
                .map_err(anyhow::Error::from)?;
            tracing::warn!(user = %session.user.sub, error = %error, "token refresh failed; session kept");
            Err(error)
        }
    }
}

/// Calls the token endpoint and seals what it returns.
async fn exchange(state: &AppState, session: &Session) -> Result<RefreshedTokens, RefreshError> {
    let Ok(refresh_token) = state.sessions.refresh_token(session) else {
        // Sealed under another APP_SECRET, or damaged: unusable for good, like invalid_grant.
        tracing::warn!(user = %session.user.sub, "stored refresh token does not decrypt; session ended");
        return Err(RefreshError::SessionEnded);
    };
    let tokens = state
        .idp
        .refresh(&refresh_token)
        .await
        .map_err(|error| match error {
            TokenError::InvalidGrant => RefreshError::SessionEnded,
            other => RefreshError::Unreachable(other.into()),
        })?;
    let id_hash = session.id_hash();
    let rotated = tokens.refresh_token.as_ref().map(|token| {
        state
            .sessions
            .seal(token.expose(), "refresh_token", id_hash)
    });
    if let Some(rotated) = &rotated {
        // The IdP has retired the old refresh token: keep the new one whatever happens next.
        db::sessions::store_refresh_token(state.sessions.pool(), id_hash, rotated)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let claims = state
        .idp
        .id_tokens
        .verify(tokens.id_token.expose(), None)
        .await
        .map_err(|error| RefreshError::Unreachable(error.into()))?;
    if claims.sub != session.user.sub {
        return Err(RefreshError::Unreachable(anyhow::anyhow!(
            "the refreshed ID token names another user"
        )));
    }
    let now = clock::now();
    Ok(RefreshedTokens {
        id_token: state
            .sessions
            .seal(tokens.id_token.expose(), "id_token", id_hash),
        access_token: state
            .sessions
            .seal(tokens.access_token.expose(), "access_token", id_hash),
        refresh_token: rotated,
        access_expires_at: now + tokens.expires_in.as_secs() as i64,
        groups: claims.groups.join(" "),
        email: claims.email,
        refreshed_at: now,
    })
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
