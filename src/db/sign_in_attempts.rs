//! Queries of `sign_in_attempts`: the PKCE verifier, nonce and `return_to` of a sign-in in flight.

use sqlx::{Row, SqlitePool};

/// How long a sign-in attempt may take, from `/auth/sign-in` to `/auth/callback`.
pub const ATTEMPT_TTL_SECONDS: i64 = 600;

/// What `/auth/callback` needs of the attempt it completes.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInAttempt {
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub created_at: i64,
}

impl std::fmt::Debug for SignInAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The PKCE verifier and the nonce are one-time secrets of the sign-in.
        f.debug_struct("SignInAttempt")
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Stores an attempt, and forgets attempts that are older than their lifetime.
pub async fn insert(
    pool: &SqlitePool,
    state_hash: &str,
    attempt: &SignInAttempt,
) -> sqlx::Result<()> {
    sqlx::query("delete from sign_in_attempts where created_at < ?")
        .bind(attempt.created_at - ATTEMPT_TTL_SECONDS)
        .execute(pool)
        .await?;
    sqlx::query(
        "insert into sign_in_attempts (state_hash, pkce_verifier, nonce, return_to, created_at) values (?, ?, ?, ?, ?)",
    )
    .bind(state_hash)
    .bind(&attempt.pkce_verifier)
    .bind(&attempt.nonce)
    .bind(&attempt.return_to)
    .bind(attempt.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes the attempt and returns it: an attempt can be completed once only.
pub async fn take(pool: &SqlitePool, state_hash: &str) -> sqlx::Result<Option<SignInAttempt>> {
    let row = sqlx::query(
        "delete from sign_in_attempts where state_hash = ? returning pkce_verifier, nonce, return_to, created_at",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(SignInAttempt {
            pkce_verifier: row.try_get("pkce_verifier")?,
            nonce: row.try_get("nonce")?,
            return_to: row.try_get("return_to")?,
            created_at: row.try_get("created_at")?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::test_pool;

    fn attempt(created_at: i64) -> SignInAttempt {
        SignInAttempt {
            pkce_verifier: "v".into(),
            nonce: "n".into(),
            return_to: "/account".into(),
            created_at,
        }
    }

    #[tokio::test]
    async fn an_attempt_is_taken_once() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, "hash", &attempt(1000)).await.unwrap();

        let first = take(&pool, "hash").await.unwrap();
        let second = take(&pool, "hash").await.unwrap();

        assert_eq!(first, Some(attempt(1000)));
        assert_eq!(second, None);
    }

    #[tokio::test]
    async fn inserting_forgets_attempts_past_their_lifetime() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, "old", &attempt(1000)).await.unwrap();

        insert(&pool, "new", &attempt(1000 + ATTEMPT_TTL_SECONDS + 1))
            .await
            .unwrap();

        assert_eq!(take(&pool, "old").await.unwrap(), None);
        assert!(take(&pool, "new").await.unwrap().is_some());
    }
}
