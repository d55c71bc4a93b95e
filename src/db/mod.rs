//! The SQLite pool and the schema: migrations embedded in the binary and applied at start-up.
//! One file per table holds that table's queries.

pub mod sessions;
pub mod sign_in_attempts;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Every file of `migrations/`, in order. Embedded by hand rather than with `sqlx::migrate!()`,
/// whose proc macro would compile SQLite a second time; a test checks this list against the folder.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "create sign in attempts and sessions",
        include_str!("../../migrations/0001_create_sign_in_attempts_and_sessions.sql"),
    ),
    (
        2,
        "fence the refresh lease",
        include_str!("../../migrations/0002_fence_the_refresh_lease.sql"),
    ),
    (
        3,
        "keep the sign in time",
        include_str!("../../migrations/0003_keep_the_sign_in_time.sql"),
    ),
    (
        4,
        "list a users sessions",
        include_str!("../../migrations/0004_list_a_users_sessions.sql"),
    ),
];

#[derive(Debug)]
struct EmbeddedMigrations;

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    #[allow(clippy::type_complexity)]
    fn resolve(
        self,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>>
                + Send
                + 's,
        >,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        sqlx::SqlStr::from_static(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Opens (creating if needed) the database and applies the migrations.
pub async fn connect(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("reading DATABASE_URL {database_url:?}"))?
        .create_if_missing(true)
        // WAL lets readers run beside the one writer; several app processes may share the file.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .context("opening the SQLite database")?;
    let migrator = Migrator::new(EmbeddedMigrations)
        .await
        .context("loading the migrations")?;
    migrator
        .run(&pool)
        .await
        .context("applying the migrations")?;
    Ok(pool)
}

/// Whether the database answers.
pub async fn ping(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query("select 1").execute(pool).await.map(|_| ())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub async fn test_pool() -> (SqlitePool, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        (connect(&url).await.unwrap(), dir)
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let mut files: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect();
        files.sort();

        assert_eq!(
            files.len(),
            MIGRATIONS.len(),
            "add new files of migrations/ to db::MIGRATIONS"
        );
        for (file, (version, _, _)) in files.iter().zip(MIGRATIONS) {
            assert!(
                file.starts_with(&format!("{version:04}_")),
                "{file} is not migration {version}"
            );
        }
    }

    #[tokio::test]
    async fn migrations_apply_twice_without_error() {
        let (pool, dir) = test_pool().await;
        pool.close().await;

        let again = connect(&format!(
            "sqlite://{}",
            dir.path().join("test.db").display()
        ))
        .await;

        assert!(again.is_ok());
    }
}
