//! The schema migrations of each backend, embedded in the binary. Embedded by hand rather than
//! with `sqlx::migrate!()`, whose proc macro would compile SQLite a second time; a test checks
//! each list against its folder of `migrations/`.
//!
//! Several instances may start at once on a new database. On PostgreSQL, sqlx's migrator holds an
//! advisory lock while it works, so the others wait and then find everything applied. SQLite has
//! no such lock: two instances may both find a migration missing and one of them fails to apply
//! it, so a failed run is tried again, and the retry finds it applied.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

type Migrations = &'static [(i64, &'static str, &'static str)];

/// Every file of `migrations/sqlite/`, in order.
pub(crate) const SQLITE: Migrations = &[
    (
        1,
        "create sign in attempts and sessions",
        include_str!("../../migrations/sqlite/0001_create_sign_in_attempts_and_sessions.sql"),
    ),
    (
        2,
        "fence the refresh lease",
        include_str!("../../migrations/sqlite/0002_fence_the_refresh_lease.sql"),
    ),
    (
        3,
        "keep the sign in time",
        include_str!("../../migrations/sqlite/0003_keep_the_sign_in_time.sql"),
    ),
    (
        4,
        "list a users sessions",
        include_str!("../../migrations/sqlite/0004_list_a_users_sessions.sql"),
    ),
];

/// Every file of `migrations/postgres/`, in order. PostgreSQL support came after SQLite's
/// migration 4, so its first migration is the whole schema.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES: Migrations = &[(
    1,
    "create sign in attempts and sessions",
    include_str!("../../migrations/postgres/0001_create_sign_in_attempts_and_sessions.sql"),
)];

#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
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
        Box::pin(async move {
            Ok(self
                .0
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

async fn migrator(migrations: Migrations) -> anyhow::Result<Migrator> {
    Migrator::new(Embedded(migrations))
        .await
        .context("loading the migrations")
}

/// Applies SQLite's migrations, trying again when another instance applied one at the same time.
pub(super) async fn apply_sqlite(pool: &sqlx::SqlitePool) -> anyhow::Result<()> {
    let migrator = migrator(SQLITE).await?;
    let mut attempt = 1;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(error) if attempt < 5 => {
                tracing::debug!(%error, attempt, "migrations raced with another instance; again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(error) => return Err(error).context("applying the migrations"),
        }
    }
}

/// Applies PostgreSQL's migrations under sqlx's advisory lock.
#[cfg(feature = "postgres")]
pub(super) async fn apply_postgres(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    migrator(POSTGRES)
        .await?
        .run(pool)
        .await
        .context("applying the migrations")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_embedded_in_order(folder: &str, migrations: Migrations) {
        let path = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();

        assert_eq!(
            files.len(),
            migrations.len(),
            "add new files of migrations/{folder}/ to its list in db::migrations"
        );
        for (file, (version, _, sql)) in files.iter().zip(migrations) {
            assert!(
                file.starts_with(&format!("{version:04}_")),
                "{file} is not migration {version}"
            );
            let on_disk = std::fs::read_to_string(format!("{path}/{file}")).unwrap();
            assert_eq!(&on_disk, sql, "{file} is embedded as migration {version}");
        }
    }

    #[test]
    fn every_sqlite_migration_file_is_embedded_in_order() {
        assert_embedded_in_order("sqlite", SQLITE);
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn every_postgres_migration_file_is_embedded_in_order() {
        assert_embedded_in_order("postgres", POSTGRES);
    }
}
