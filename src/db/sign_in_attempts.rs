//! Queries of `sign_in_attempts`: the PKCE verifier, nonce and `return_to` of a sign-in in flight.

use sqlx::Row;

use super::{Db, on_pool};

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

/// Stores an attempt.
pub async fn insert(db: &Db, state_hash: &str, attempt: &SignInAttempt) -> sqlx::Result<()> {
    const SQL: &str = "insert into sign_in_attempts \
        (state_hash, pkce_verifier, nonce, return_to, created_at) values ($1, $2, $3, $4, $5)";
    on_pool!(db, pool => sqlx::query(SQL)
        .bind(state_hash)
        .bind(&attempt.pkce_verifier)
        .bind(&attempt.nonce)
        .bind(&attempt.return_to)
        .bind(attempt.created_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Removes the attempt and returns it: an attempt can be completed once only.
pub async fn take(db: &Db, state_hash: &str) -> sqlx::Result<Option<SignInAttempt>> {
    const SQL: &str = "delete from sign_in_attempts where state_hash = $1 \
        returning pkce_verifier, nonce, return_to, created_at";
    let attempt = on_pool!(db, pool => {
        let row = sqlx::query(SQL).bind(state_hash).fetch_optional(pool).await?;
        row.map(|row| {
            Ok::<_, sqlx::Error>(SignInAttempt {
                pkce_verifier: row.try_get("pkce_verifier")?,
                nonce: row.try_get("nonce")?,
                return_to: row.try_get("return_to")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()?
    });
    Ok(attempt)
}

/// Deletes up to [`HOUSEKEEPING_BATCH`](crate::db::HOUSEKEEPING_BATCH) attempts started before `before` (abandoned: nobody
/// came back from the IdP in time); how many. Like the sessions' batch, PostgreSQL skips rows
/// another instance is deleting.
pub async fn delete_abandoned_batch(db: &Db, before: i64) -> sqlx::Result<u64> {
    super::delete_batch(
        db,
        "delete from sign_in_attempts where state_hash in \
         (select state_hash from sign_in_attempts where created_at < $1 limit $2)",
        "delete from sign_in_attempts where state_hash in \
         (select state_hash from sign_in_attempts where created_at < $1 limit $2 \
          for update skip locked)",
        before,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::HOUSEKEEPING_BATCH;
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
    async fn abandoned_attempts_are_deleted_in_batches() {
        let (pool, _dir) = test_pool().await;
        for n in 0..HOUSEKEEPING_BATCH + 1 {
            insert(&pool, &format!("old-{n}"), &attempt(1000))
                .await
                .unwrap();
        }
        insert(&pool, "new", &attempt(1000 + ATTEMPT_TTL_SECONDS))
            .await
            .unwrap();
        let before = 1000 + ATTEMPT_TTL_SECONDS;

        let first = delete_abandoned_batch(&pool, before).await.unwrap();
        let second = delete_abandoned_batch(&pool, before).await.unwrap();

        assert_eq!((first, second), (HOUSEKEEPING_BATCH as u64, 1));
        assert_eq!(take(&pool, "old-0").await.unwrap(), None);
        assert!(take(&pool, "new").await.unwrap().is_some());
    }
}
