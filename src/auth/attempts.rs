//! Sign-in attempts in flight: what `/auth/callback` needs of the attempt it completes, kept on
//! the server under the hash of its `state`, usable once.

use crate::clock;
use crate::db::Db;
use crate::db::sign_in_attempts::{self, ATTEMPT_TTL_SECONDS, SignInAttempt};
use crate::secrets::hash;

/// The `sign_in_attempts` table.
pub struct AttemptStore {
    pool: Db,
}

impl AttemptStore {
    pub fn new(pool: Db) -> Self {
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

    /// Deletes one batch of attempts nobody completed within their lifetime; how many.
    pub async fn delete_abandoned_batch(&self) -> anyhow::Result<u64> {
        let before = clock::now() - ATTEMPT_TTL_SECONDS;
        Ok(sign_in_attempts::delete_abandoned_batch(&self.pool, before).await?)
    }
}
