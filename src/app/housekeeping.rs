//! Housekeeping: deleting sessions that have ended and sign-in attempts nobody completed, so the
//! tables hold live rows only. Every instance runs it; the deletes are idempotent, in small
//! batches (`db::HOUSEKEEPING_BATCH`), and on PostgreSQL each skips the rows another instance's
//! batch holds, so instances neither block each other nor a sign-in for long.

use std::time::Duration;

use crate::auth::{AttemptStore, SessionStore};
use crate::db::HOUSEKEEPING_BATCH;
use crate::metrics;

/// How often each instance looks for rows to delete. Rows that ended are never served (every
/// read checks the time), so this bounds only how long they take space.
pub const EVERY: Duration = Duration::from_secs(5 * 60);
/// The pause between two batches of one pass, leaving the database to other work.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);

/// Runs a pass every [`EVERY`], the first soon after start-up, until the task is aborted.
pub async fn run(sessions: &SessionStore, attempts: &AttemptStore) {
    // Instances started together need not all look at the same moment.
    let first = Duration::from_millis(u64::from(crate::secrets::random_bytes(1)[0]) * 40);
    tokio::time::sleep(first).await;
    loop {
        if let Err(error) = pass(sessions, attempts).await {
            // The database is down or busy: the next pass tries again.
            tracing::warn!(error = format!("{error:#}"), "housekeeping pass stopped");
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Deletes batches until none is full; how many sessions and attempts it deleted.
pub async fn pass(sessions: &SessionStore, attempts: &AttemptStore) -> anyhow::Result<(u64, u64)> {
    let ended = in_batches("sessions", || sessions.delete_ended_batch()).await?;
    let abandoned = in_batches("sign_in_attempts", || attempts.delete_abandoned_batch()).await?;
    if ended + abandoned > 0 {
        tracing::info!(ended, abandoned, "housekeeping deleted rows");
    }
    Ok((ended, abandoned))
}

async fn in_batches<F, Fut>(table: &'static str, mut batch: F) -> anyhow::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u64>>,
{
    let mut total = 0;
    loop {
        let deleted = batch().await?;
        metrics::housekeeping_deleted(table, deleted);
        total += deleted;
        if deleted < HOUSEKEEPING_BATCH.unsigned_abs() {
            return Ok(total);
        }
        tokio::time::sleep(BETWEEN_BATCHES).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::{self, sessions::test_row};
    use crate::secrets::{Secret, TokenCipher};

    fn stores(pool: db::Db) -> (SessionStore, AttemptStore) {
        let cipher = TokenCipher::new(&Secret::new(vec![7; 64]));
        let day = Duration::from_secs(86_400);
        (
            SessionStore::new(pool.clone(), cipher, day),
            AttemptStore::new(pool),
        )
    }

    #[tokio::test]
    async fn two_instances_passing_at_once_delete_every_ended_row_once_and_keep_the_live_ones() {
        let (pool, guard) = db::tests::test_pool().await;
        let now = crate::clock::now();
        let ended = 3 * HOUSEKEEPING_BATCH + 7;
        for n in 0..ended {
            let mut row = test_row(&format!("ended-{n}"), now - 90_000, now - 86_000, 1);
            row.expires_at = now - 10;
            db::sessions::insert(&pool, &row).await.unwrap();
        }
        db::sessions::insert(&pool, &test_row("live", now, now + 3600, 1))
            .await
            .unwrap();
        // A second instance: its own pool on the same database.
        let (first, second) = (
            Arc::new(stores(pool.clone())),
            Arc::new(stores(db::connect(&guard.url).await.unwrap())),
        );

        let (a, b) = tokio::join!(pass(&first.0, &first.1), pass(&second.0, &second.1));

        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.0 + b.0,
            ended.unsigned_abs(),
            "each ended session deleted once"
        );
        assert_eq!(db::sessions::count_live(&pool, 0).await.unwrap(), 1);
        assert!(
            db::sessions::find(&pool, "live", now)
                .await
                .unwrap()
                .is_some()
        );
    }
}
