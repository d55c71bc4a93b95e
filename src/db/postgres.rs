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
        // The cache in front keeps these mostly idle; the change feed has one of its own beside.
        .max_connections(11)
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

/// How often the feed checks that its own connection still hears: it notifies its channel with
/// an empty payload through the pool, and a listener that has not heard it back within
/// [`HEARTBEAT_LIMIT`] is taken for lost.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_LIMIT: Duration = Duration::from_secs(2);

/// Follows the session changes of every instance, calling `on_change` for each, until the pool
/// is closed or `on_change` says `false` (nobody follows any more). Reconnects by itself after
/// the database restarts or the connection drops, and after a connection that died without a
/// word (half-open TCP, a frozen server) fails the heartbeat: within [`HEARTBEAT_EVERY`] and
/// [`HEARTBEAT_LIMIT`], during which the cache's one-second re-read is the bound.
pub async fn follow_changes(pool: PgPool, on_change: impl Fn(Change) -> bool + Send + 'static) {
    while !pool.is_closed() {
        match listen(&pool).await {
            Ok((mut listener, channel)) => {
                if !on_change(Change::Listening) {
                    return;
                }
                match hear(&pool, &mut listener, &channel, &on_change).await {
                    Heard::NobodyFollows => return,
                    Heard::Lost(why) => {
                        if !pool.is_closed() {
                            tracing::warn!(why, "session change feed lost; connecting again");
                        }
                        if !on_change(Change::Lost) {
                            return;
                        }
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "session change feed not connected"),
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

enum Heard {
    NobodyFollows,
    Lost(String),
}

/// Passes on what `listener` hears until it is lost, heartbeats included.
async fn hear(
    pool: &PgPool,
    listener: &mut PgListener,
    channel: &str,
    on_change: &impl Fn(Change) -> bool,
) -> Heard {
    let mut beat = tokio::time::interval(HEARTBEAT_LIMIT / 2);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent = tokio::time::Instant::now();
    // When a heartbeat was sent that has not come back yet.
    let mut unanswered: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            // Cancel-safe: sqlx reads a message out of its buffer only once it is whole.
            received = listener.try_recv() => {
                let followed = match received {
                    Ok(Some(notification)) if notification.payload().is_empty() => {
                        unanswered = None;
                        true
                    }
                    Ok(Some(notification)) => {
                        on_change(Change::Session(notification.payload().to_owned()))
                    }
                    // Lost, and already connected again: say so, then we are listening.
                    Ok(None) => {
                        unanswered = None;
                        on_change(Change::Lost) && on_change(Change::Listening)
                    }
                    Err(error) => return Heard::Lost(error.to_string()),
                };
                if !followed {
                    return Heard::NobodyFollows;
                }
            }
            _ = beat.tick() => {
                if let Some(sent) = unanswered {
                    if sent.elapsed() >= HEARTBEAT_LIMIT {
                        return Heard::Lost("the heartbeat did not come back".into());
                    }
                } else if last_sent.elapsed() >= HEARTBEAT_EVERY {
                    last_sent = tokio::time::Instant::now();
                    // If the database does not take it, the listener's own connection will say.
                    let sent = sqlx::query("select pg_notify($1, '')")
                        .bind(channel)
                        .execute(pool)
                        .await;
                    if sent.is_ok() {
                        unanswered = Some(last_sent);
                    }
                }
            }
        }
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

/// A listener on this schema's channel, and the channel's name. The listener has a connection of
/// its own, outside the requests' pool: a listener given up for dead says `UNLISTEN` on its way
/// out, and on a connection that died without a word that waits until TCP gives up, holding
/// what it holds.
async fn listen(pool: &PgPool) -> sqlx::Result<(PgListener, String)> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let mut listener = PgListener::connect_with(&own).await?;
    let schema: String = sqlx::query_scalar("select current_schema()")
        .fetch_one(&mut listener)
        .await?;
    let channel = format!("{SESSION_CHANGES}:{schema}");
    listener.listen(&channel).await?;
    Ok((listener, channel))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::db::{self, sessions, sessions::test_row};

    /// A migrated schema of its own on the `TEST_DATABASE_URL` server, and its pool.
    async fn fresh_database() -> (db::Db, PgPool) {
        let server = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL is set");
        let db = db::connect(&fresh_schema(&server).await.unwrap())
            .await
            .unwrap();
        let db::Db::Postgres(pool) = &db else {
            panic!("a PostgreSQL URL opens PostgreSQL")
        };
        let pool = pool.clone();
        (db, pool)
    }

    #[tokio::test]
    #[cfg_attr(no_postgres, ignore = "needs TEST_DATABASE_URL (scripts/postgres.sh)")]
    async fn a_deleted_or_refreshed_session_is_announced_to_every_follower() {
        let (db, pool) = fresh_database().await;
        let pool = &pool;
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

    #[tokio::test]
    #[cfg_attr(no_postgres, ignore = "needs TEST_DATABASE_URL (scripts/postgres.sh)")]
    async fn a_listener_whose_server_goes_silent_is_replaced_after_a_missed_heartbeat() {
        let (_db, pool) = fresh_database().await;
        let pool = &pool;
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(follow_changes(pool.clone(), move |change| {
            tx.send(change).is_ok()
        }));
        assert_eq!(changes.recv().await, Some(Change::Listening));
        // The server process of the listener's connection, found by the channel it listens on.
        let pid: i32 = sqlx::query_scalar(
            "select pid from pg_stat_activity where query = \
             format('LISTEN \"%s:%s\"', $1::text, current_schema())",
        )
        .bind(SESSION_CHANGES)
        .fetch_one(pool)
        .await
        .unwrap();
        let signal = |which: &str| {
            let status = std::process::Command::new("kill")
                .args([which, &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill {which} {pid}");
        };

        // Frozen, its connection stays open and says nothing, as a half-open one would.
        signal("-STOP");
        let frozen_at = std::time::Instant::now();
        let wait = HEARTBEAT_EVERY + HEARTBEAT_LIMIT + Duration::from_secs(10);
        let lost = tokio::time::timeout(wait, changes.recv()).await;
        let lost_after = frozen_at.elapsed();
        let again = tokio::time::timeout(wait, changes.recv()).await;
        signal("-CONT");

        assert_eq!(
            lost.ok().flatten(),
            Some(Change::Lost),
            "the silence is noticed"
        );
        assert_eq!(
            again.ok().flatten(),
            Some(Change::Listening),
            "and a new listener follows"
        );
        eprintln!("a silent listener was given up {lost_after:?} after it froze");
    }
}
