//! The refresh lease and what a refresh stores, on `SessionStore`: every write after the lease
//! is taken names the lease's token (see `migrations/sqlite/0002_fence_the_refresh_lease.sql`).

use crate::auth::id_token::IdTokenClaims;
use crate::auth::idp::TokenSet;
use crate::clock;
use crate::db;
use crate::secrets::{Secret, random_token};

use super::{Session, SessionStore, TokenColumn};

/// Tokens from a successful refresh, with what the new ID token says about the user.
pub struct Refreshed {
    pub tokens: TokenSet,
    pub claims: IdTokenClaims,
    /// When the new access token expires.
    pub access_expires_at: i64,
}

/// The right to refresh one session, held under a random token until it is released or lapses.
pub struct Lease(String);

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lease")
    }
}

impl SessionStore {
    /// Takes the session's refresh lease until `until`, if nobody holds it now. The lease's
    /// token fences every write of the refresh (see `migrations/sqlite/0002_fence_the_refresh_lease.sql`).
    pub async fn take_refresh_lease(
        &self,
        session: &Session,
        until: i64,
    ) -> anyhow::Result<Option<Lease>> {
        let lease = Lease(random_token(16));
        let taken = db::sessions::take_refresh_lease(
            &self.pool,
            &session.id_hash,
            &lease.0,
            clock::now(),
            until,
        )
        .await?;
        Ok(taken.then_some(lease))
    }

    /// Extends `lease` until `until`; `false` when it is no longer held.
    pub async fn renew_refresh_lease(
        &self,
        session: &Session,
        lease: &Lease,
        until: i64,
    ) -> anyhow::Result<bool> {
        Ok(
            db::sessions::renew_refresh_lease(&self.pool, &session.id_hash, &lease.0, until)
                .await?,
        )
    }

    /// Gives `lease` back without new tokens; nothing happens when it is no longer held.
    pub async fn release_refresh_lease(
        &self,
        session: &Session,
        lease: &Lease,
    ) -> anyhow::Result<()> {
        db::sessions::release_refresh_lease(&self.pool, &session.id_hash, &lease.0).await?;
        Ok(())
    }

    /// Stores a rotated refresh token at once, before anything else is checked: the IdP has
    /// retired the old one, so it must not be lost if verifying the rest fails.
    pub async fn store_rotated_refresh_token(
        &self,
        session: &Session,
        lease: &Lease,
        refresh_token: &Secret<String>,
    ) -> anyhow::Result<()> {
        let sealed = self.seal(refresh_token, TokenColumn::Refresh, &session.id_hash);
        if !db::sessions::store_refresh_token(&self.pool, &session.id_hash, &lease.0, &sealed)
            .await?
        {
            tracing::warn!(user = %session.user.sub, "refresh lease lost before the rotated refresh token was stored; not stored");
        }
        Ok(())
    }

    /// Stores the tokens of a refresh and releases `lease`, and returns the session as the
    /// database holds it now: `None` when it ended while the refresh was under way. When the
    /// lease is no longer held (it lapsed and another holder took it), nothing is stored.
    pub async fn store_refreshed(
        &self,
        session: &Session,
        lease: &Lease,
        refreshed: &Refreshed,
    ) -> anyhow::Result<Option<Session>> {
        let id_hash = &session.id_hash;
        let tokens = db::sessions::RefreshedTokens {
            id_token: self.seal(&refreshed.tokens.id_token, TokenColumn::Id, id_hash),
            access_token: self.seal(&refreshed.tokens.access_token, TokenColumn::Access, id_hash),
            refresh_token: refreshed
                .tokens
                .refresh_token
                .as_ref()
                .map(|token| self.seal(token, TokenColumn::Refresh, id_hash)),
            access_expires_at: refreshed.access_expires_at,
            groups: db::sessions::join_groups(&refreshed.claims.groups),
            email: refreshed.claims.email.clone(),
            // Only an explicit `auth_time`: a refreshed token's `iat` is no sign-in.
            auth_time: refreshed.claims.auth_time,
            refreshed_at: clock::now(),
        };
        let stored =
            db::sessions::store_refreshed_tokens(&self.pool, id_hash, &lease.0, &tokens).await?;
        let now = self.reload(session).await?;
        if !stored && now.is_some() {
            tracing::warn!(user = %session.user.sub, "refresh lease lost before the new tokens were stored; not stored");
        }
        Ok(now)
    }
}
