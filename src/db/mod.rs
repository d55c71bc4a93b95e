//! The database: SQLite (the embedded default) or PostgreSQL (for several instances), the schema
//! migrations of each, applied at start-up, and one file per table holding that table's queries.
//!
//! Both backends run the same SQL wherever their dialects agree, which is nearly everywhere:
//! parameters are written `$1`, `$2`…, which SQLite reads as well as PostgreSQL. [`on_pool!`]
//! compiles a query once for each pool type. Where the dialects differ (the housekeeping's batched
//! deletes), the two statements sit side by side in the same function.

pub(crate) mod migrations;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sessions;
pub mod sign_in_attempts;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// How many rows the housekeeping deletes in one statement: small enough that no statement holds
/// its locks for long, on either backend, whatever the table's size.
pub const HOUSEKEEPING_BATCH: i64 = 500;

/// A connection pool of one backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Evaluates `$body` with `$pool` bound to whichever pool `$db` holds: the body is compiled once
/// per backend, so the same query text and binds serve both.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Db {
    /// Closes every connection (for tools and tests done with the database).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// One batch of a housekeeping delete, `$1` bound to `before` and `$2` to
/// [`HOUSEKEEPING_BATCH`]: `sqlite` on SQLite, `postgres` on PostgreSQL (the same statement, whose
/// subquery there also says `for update skip locked`); how many rows it deleted.
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
async fn delete_batch(
    db: &Db,
    sqlite: &'static str,
    postgres: &'static str,
    before: i64,
) -> sqlx::Result<u64> {
    let sql = match db {
        Db::Sqlite(_) => sqlite,
        #[cfg(feature = "postgres")]
        Db::Postgres(_) => postgres,
    };
    on_pool!(db, pool => sqlx::query(sql)
        .bind(before)
        .bind(HOUSEKEEPING_BATCH)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens (creating if needed) the database of `database_url` and applies its migrations.
pub async fn connect(database_url: &str) -> anyhow::Result<Db> {
    if is_postgres_url(database_url) {
        #[cfg(feature = "postgres")]
        return postgres::connect(database_url).await.map(Db::Postgres);
        #[cfg(not(feature = "postgres"))]
        anyhow::bail!("this build has no PostgreSQL support (build it with the postgres feature)");
    }
    connect_sqlite(database_url).await.map(Db::Sqlite)
}

async fn connect_sqlite(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("reading DATABASE_URL {database_url:?}"))?
        .create_if_missing(true)
        // WAL lets readers run beside the one writer; several app processes may share the file.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    // Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at
    // once there rather than waiting out the busy timeout; so instances starting together on a
    // new file try again, a few times, for about two and a half seconds in all.
    let mut attempt = 1;
    let pool = loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await;
        match opened {
            Ok(pool) => break pool,
            Err(error) if attempt < 8 && is_sqlite_busy(&error) => {
                tracing::debug!(%error, attempt, "the SQLite file is busy opening; again");
                tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
                attempt += 1;
            }
            Err(error) => return Err(error).context("opening the SQLite database"),
        }
    };
    migrations::apply_sqlite(&pool).await?;
    Ok(pool)
}

/// SQLITE_BUSY, with any of its extended codes.
fn is_sqlite_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error.code().is_some_and(|code| is_sqlite_busy_code(&code))
}

fn is_sqlite_busy_code(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|code| code & 0xff == 5)
}

/// Whether the database answers.
pub async fn ping(db: &Db) -> sqlx::Result<()> {
    on_pool!(db, pool => sqlx::query("select 1").execute(pool).await.map(|_| ()))
}

/// Whether `error` says the database could not be reached (down, restarting, failing over, or
/// the pool's wait for a connection ran out), rather than that a query was wrong: the pages say
/// "try again in a moment" for the first, and the second is our bug.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if cause.is::<Unavailable>() {
            return true;
        }
        let Some(error) = cause.downcast_ref::<sqlx::Error>() else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed => true,
            sqlx::Error::Database(error) => error.code().is_some_and(|code| is_transient(&code)),
            _ => false,
        }
    })
}

/// PostgreSQL's SQLSTATEs of a server that is away for now: class 08 (connection exception),
/// 57P01–57P03 (shut down, crashed, starting up), 25006 (read only: a standby during a failover);
/// and SQLite's SQLITE_BUSY (5) with its extended codes, after the busy timeout.
fn is_transient(code: &str) -> bool {
    code.starts_with("08")
        || ["57P01", "57P02", "57P03", "25006"].contains(&code)
        || is_sqlite_busy_code(code)
}

/// A copy of an [`is_unavailable`] error handed to several waiters as text (see
/// `auth::refresh`), which keeps saying so.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh, migrated database for a unit test: a SQLite file in a temporary folder, or, when
    /// `TEST_DATABASE_URL` is set, a schema of its own on that PostgreSQL server (left there: the
    /// server is a throwaway one, see `scripts/postgres.sh`).
    pub async fn test_pool() -> (Db, TestDatabase) {
        let guard = TestDatabase::new().await;
        (connect(&guard.url).await.unwrap(), guard)
    }

    /// Where a unit test's database lives; a SQLite file goes with it when dropped.
    pub struct TestDatabase {
        pub url: String,
        _dir: tempfile::TempDir,
    }

    impl TestDatabase {
        pub async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let url = match std::env::var("TEST_DATABASE_URL") {
                #[cfg(feature = "postgres")]
                Ok(server) if !server.is_empty() => postgres::fresh_schema(&server).await.unwrap(),
                _ => format!("sqlite://{}", dir.path().join("test.db").display()),
            };
            Self { url, _dir: dir }
        }
    }

    #[tokio::test]
    async fn migrations_apply_twice_without_error() {
        let (db, guard) = test_pool().await;
        db.close().await;

        let again = connect(&guard.url).await;

        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn instances_starting_at_once_on_a_new_database_all_come_up() {
        let guard = TestDatabase::new().await;
        let mut starting = tokio::task::JoinSet::new();

        for _ in 0..4 {
            let url = guard.url.clone();
            starting.spawn(async move { connect(&url).await });
        }

        while let Some(started) = starting.join_next().await {
            started.unwrap().expect("every instance starts");
        }
    }

    #[test]
    fn connection_failures_are_unavailable_and_query_errors_are_not() {
        let refused = anyhow::Error::new(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
        .context("reading the session");
        let timed_out = anyhow::Error::new(sqlx::Error::PoolTimedOut);
        let told = anyhow::Error::new(Unavailable("pool timed out".into())).context("refreshing");
        let wrong = anyhow::Error::new(sqlx::Error::RowNotFound);
        let protocol = anyhow::Error::new(sqlx::Error::Protocol("a bad parameter name".into()));

        assert!(is_unavailable(&refused) && is_unavailable(&timed_out) && is_unavailable(&told));
        assert!(!is_unavailable(&wrong) && !is_unavailable(&protocol));
        assert!(is_transient("08006") && is_transient("57P01") && is_transient("25006"));
        assert!(
            is_transient("5") && is_transient("517"),
            "SQLITE_BUSY and BUSY_SNAPSHOT"
        );
        assert!(!is_transient("57P04") && !is_transient("42P01") && !is_transient("6"));
        assert!(!is_unavailable(&anyhow::anyhow!("not a database error")));
    }
}
