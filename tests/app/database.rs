//! The database a test app runs on, and SQL behind the app's back. By default a SQLite file in
//! the app's data folder; with `TEST_DATABASE_URL` (a PostgreSQL server, e.g. from
//! `scripts/postgres.sh start`), a schema of its own on that server, so that the whole suite runs
//! once per backend (`.ci/run` does both).

use std::path::Path;

use cognito_web::db::{self, Db};

/// The PostgreSQL server the tests run on, when they run on one.
pub fn postgres_server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// `sqlite` or `postgres`, whichever backend the suite runs on: for SQL the two write differently.
pub fn dialect<'a>(sqlite: &'a str, postgres: &'a str) -> &'a str {
    if on_postgres() { postgres } else { sqlite }
}

/// The database URL of the app whose data folder is `dir`: made the first time, and the same
/// afterwards, so an app restarted on the folder finds its sessions.
pub async fn database_url_for(dir: &Path) -> String {
    let recorded = dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&recorded) {
        return url;
    }
    let url = match postgres_server() {
        Some(server) => fresh_schema(&server).await,
        None => format!("sqlite://{}", dir.join("app.db").display()),
    };
    std::fs::write(&recorded, &url).unwrap();
    url
}

/// Records `url` as the database of the app whose data folder is `dir`, and returns it.
pub fn record_database_url(dir: &Path, url: &str) -> String {
    std::fs::write(dir.join("database-url"), url).unwrap();
    url.to_owned()
}

#[cfg(feature = "postgres")]
async fn fresh_schema(server: &str) -> String {
    db::postgres::fresh_schema(server)
        .await
        .expect("TEST_DATABASE_URL answers")
}

#[cfg(not(feature = "postgres"))]
async fn fresh_schema(_server: &str) -> String {
    panic!("TEST_DATABASE_URL is set, but this build has no postgres feature")
}

/// The database of `url`, migrated, for SQL behind the app's back.
pub async fn open(url: &str) -> Db {
    db::connect(url).await.expect("the test database opens")
}

/// Runs `sql` (one statement, or several separated by `;`).
pub async fn execute(url: &str, sql: &str) {
    let db = open(url).await;
    match &db {
        Db::Sqlite(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()),
        #[cfg(feature = "postgres")]
        Db::Postgres(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap_or_else(|error| panic!("{sql}: {error}"));
    db.close().await;
}

/// The integers of the first column of `sql`'s rows.
pub async fn integers(url: &str, sql: &'static str) -> Vec<i64> {
    let db = open(url).await;
    let values = match &db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        #[cfg(feature = "postgres")]
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
    };
    db.close().await;
    values.unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// The one integer `sql` reads.
pub async fn integer(url: &str, sql: &'static str) -> i64 {
    let values = integers(url, sql).await;
    assert_eq!(values.len(), 1, "{sql} read {values:?}");
    values[0]
}

/// The one text `sql` reads.
pub async fn text(url: &str, sql: &'static str) -> String {
    let db = open(url).await;
    let value = match &db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        #[cfg(feature = "postgres")]
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    };
    db.close().await;
    value.unwrap_or_else(|error| panic!("{sql}: {error}"))
}
