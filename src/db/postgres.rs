//! PostgreSQL, for several instances sharing their sessions: the pool, and the feed of session
//! changes that every instance follows (LISTEN on the channel the schema's triggers notify; see
//! `migrations/postgres/0001_create_sign_in_attempts_and_sessions.sql`).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

/// The channel the triggers of `sessions` notify, with the changed session's id hash as payload,
/// followed by `:` and the schema of the table.
pub const SESSION_CHANGES: &str = "cognito_web_sessions";

/// How long a request waits for a connection before it gets the "try again" page: a database
/// that is down or restarting fails requests quickly instead of piling them up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the feed waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_millis(250);

/// Connects to the database of `database_url` and applies the migrations.
pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(database_url)
        .context("reading DATABASE_URL")?
        .application_name("cognito-web");
    let pool = PgPoolOptions::new()
        // One connection is the change feed's; the cache in front keeps the rest mostly idle.
        .max_connections(12)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")?;
    super::migrations::apply_postgres(&pool).await?;
    Ok(pool)
}

/// What the change feed tells its follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Listening (again): changes from now on arrive. Any made while not listening were missed.
    Listening,
    /// The session of this id hash changed or ended.
    Session(String),
    /// The connection was lost: changes are missed until the next `Listening`.
    Lost,
}

/// Follows the session changes of every instance, calling `on_change` for each, until the pool
/// is closed or `on_change` says `false` (nobody follows any more). Reconnects by itself after
/// the database restarts or the connection drops.
///
/// A connection that dies without a word (a half-open TCP connection) is noticed only when the
/// operating system gives up on it; until then changes are missed and the cache's one-second
/// re-read is the bound, while `follows_changes` still says otherwise.
pub async fn follow_changes(pool: PgPool, on_change: impl Fn(Change) -> bool + Send + 'static) {
    while !pool.is_closed() {
        match listen(&pool).await {
            Ok(mut listener) => {
                if !on_change(Change::Listening) {
                    return;
                }
                loop {
                    let followed = match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            on_change(Change::Session(notification.payload().to_owned()))
                        }
                        // Lost, and already connected again: say so, then we are listening.
                        Ok(None) => on_change(Change::Lost) && on_change(Change::Listening),
                        Err(error) => {
                            if !pool.is_closed() {
                                tracing::warn!(%error, "session change feed lost; connecting again");
                            }
                            if !on_change(Change::Lost) {
                                return;
                            }
                            break;
                        }
                    };
                    if !followed {
                        return;
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "session change feed not connected"),
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// A new schema on the PostgreSQL server of `server_url`, and the URL that makes it the
/// connection's search path: for tests, each of which wants a database of its own on one server.
/// It also gets `unixepoch()`, as SQLite has (whole seconds, truncated: a cast would round),
/// for the tests' SQL that reads the time.
pub async fn fresh_schema(server_url: &str) -> sqlx::Result<String> {
    let schema = format!(
        "test_{}",
        crate::secrets::random_bytes(8)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let admin = PgPool::connect(server_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create schema {schema}; \
         create function {schema}.unixepoch() returns bigint language sql \
         as 'select floor(extract(epoch from now()))::bigint';"
    )))
    .execute(&admin)
    .await?;
    admin.close().await;
    let separator = if server_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{server_url}{separator}options[search_path]={schema}"
    ))
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let schema: String = sqlx::query_scalar("select current_schema()")
        .fetch_one(pool)
        .await?;
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen(&format!("{SESSION_CHANGES}:{schema}"))
        .await?;
    Ok(listener)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::db::{self, sessions, sessions::test_row};

    fn server() -> Option<String> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
    }

    #[tokio::test]
    #[cfg_attr(no_postgres, ignore = "needs TEST_DATABASE_URL (scripts/postgres.sh)")]
    async fn a_deleted_or_refreshed_session_is_announced_to_every_follower() {
        let url = fresh_schema(&server().expect("TEST_DATABASE_URL is set"))
            .await
            .unwrap();
        let db = db::connect(&url).await.unwrap();
        let db::Db::Postgres(pool) = &db else {
            panic!("a PostgreSQL URL opens PostgreSQL")
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut listening) = tokio::sync::mpsc::unbounded_channel();
        let record = seen.clone();
        tokio::spawn(follow_changes(pool.clone(), move |change| {
            record.lock().unwrap().push(change.clone());
            let _ = tx.send(change);
            true
        }));
        assert_eq!(listening.recv().await, Some(Change::Listening));
        // Real times: the delete trigger announces only sessions that have not ended.
        let now = crate::clock::now();
        for id_hash in ["a", "b", "c"] {
            let row = test_row(id_hash, now, now + 3_600, 2);
            sessions::insert(&db, &row).await.unwrap();
        }

        sessions::touch(&db, "c", now + 120, now + 60)
            .await
            .unwrap();
        sessions::delete(&db, "a").await.unwrap();
        sessions::take_refresh_lease(&db, "b", "t", now, now + 10)
            .await
            .unwrap();
        sessions::release_refresh_lease(&db, "b", "t")
            .await
            .unwrap();
        let mut ended = test_row("ended", now - 90_000, now - 86_000, 2);
        ended.expires_at = now - 10;
        sessions::insert(&db, &ended).await.unwrap();
        assert_eq!(sessions::delete_ended_batch(&db, now).await.unwrap(), 1);
        sessions::delete(&db, "c").await.unwrap();
        // Notifications arrive in the order of their commits: "c" is the last one.
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), listening.recv()).await;
            if next.expect("the last change is announced") == Some(Change::Session("c".into())) {
                break;
            }
        }

        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                Change::Listening,
                Change::Session("a".into()),
                Change::Session("b".into()),
                Change::Session("c".into())
            ],
            "the last-seen write, taking the lease and deleting an ended row are not announced"
        );
    }
}
