//! Sign-in attempts in flight: what `/auth/callback` needs of the attempt it completes, kept on
//! the server under the hash of its `state`, usable once.

use sqlx::SqlitePool;

use crate::db::sign_in_attempts::{self, SignInAttempt};
use crate::secrets::hash;

/// The `sign_in_attempts` table.
pub struct AttemptStore {
    pool: SqlitePool,
}

impl AttemptStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Keeps `attempt` under its `state`.
    pub async fn put(&self, state: &str, attempt: &SignInAttempt) -> anyhow::Result<()> {
        sign_in_attempts::insert(&self.pool, &hash(state), attempt).await?;
        Ok(())
    }

    /// Takes the attempt of `state` out: a second take finds nothing.
    pub async fn take(&self, state: &str) -> anyhow::Result<Option<SignInAttempt>> {
        Ok(sign_in_attempts::take(&self.pool, &hash(state)).await?)
    }
}
