//! Queries of `sessions`, for both backends. Tokens arrive here already sealed (see
//! `auth::sessions`); this module stores bytes and never sees a token in the clear.

mod refresh;

use sqlx::{FromRow, Row};

use super::{Db, on_pool};

pub use refresh::{
    RefreshedTokens, release_refresh_lease, renew_refresh_lease, store_refresh_token,
    store_refreshed_tokens, take_refresh_lease,
};

/// A `sessions` row. `groups` is the user's groups separated by spaces (see [`join_groups`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_sub: String,
    pub username: String,
    pub email: Option<String>,
    pub groups: String,
    pub csrf_token: String,
    pub id_token: Vec<u8>,
    pub access_token: Vec<u8>,
    pub refresh_token: Vec<u8>,
    pub access_expires_at: i64,
    pub signed_in_at: i64,
    /// When the user authenticated at the IdP (the ID token's `auth_time`).
    pub auth_time: i64,
    pub last_refresh_at: Option<i64>,
    pub refresh_count: i64,
    /// Unix seconds until which a refresh holds the lease; 0 or past when none does.
    pub refresh_lease_until: i64,
    pub expires_at: i64,
    /// The id `/account/sessions` names the session by: random, neither the cookie nor its hash.
    pub public_id: String,
    /// The browser's User-Agent at sign-in, already cut short.
    pub user_agent: String,
    /// When the session was last used, to the minute (see [`touch`]).
    pub last_seen_at: i64,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only what identifies the row: the CSRF token and the sealed tokens stay out of logs.
        f.debug_struct("SessionRow")
            .field("id_hash", &self.id_hash)
            .field("user_sub", &self.user_sub)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The `groups` column of a user's groups. Cognito group names cannot contain spaces.
pub fn join_groups(groups: &[String]) -> String {
    groups.join(" ")
}

/// The user's groups from the `groups` column.
pub fn split_groups(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}

/// `FromRow` for the row type of each backend: the same columns, read the same way.
macro_rules! session_from_row {
    ($row:ty) => {
        impl<'r> FromRow<'r, $row> for SessionRow {
            fn from_row(row: &'r $row) -> sqlx::Result<Self> {
                Ok(Self {
                    id_hash: row.try_get("id_hash")?,
                    user_sub: row.try_get("user_sub")?,
                    username: row.try_get("username")?,
                    email: row.try_get("email")?,
                    groups: row.try_get("groups")?,
                    csrf_token: row.try_get("csrf_token")?,
                    id_token: row.try_get("id_token")?,
                    access_token: row.try_get("access_token")?,
                    refresh_token: row.try_get("refresh_token")?,
                    access_expires_at: row.try_get("access_expires_at")?,
                    signed_in_at: row.try_get("signed_in_at")?,
                    auth_time: row.try_get("auth_time")?,
                    last_refresh_at: row.try_get("last_refresh_at")?,
                    refresh_count: row.try_get("refresh_count")?,
                    refresh_lease_until: row.try_get("refresh_lease_until")?,
                    expires_at: row.try_get("expires_at")?,
                    public_id: row.try_get("public_id")?,
                    user_agent: row.try_get("user_agent")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                })
            }
        }
    };
}
session_from_row!(sqlx::sqlite::SqliteRow);
#[cfg(feature = "postgres")]
session_from_row!(sqlx::postgres::PgRow);

macro_rules! columns {
    () => {
        "id_hash, user_sub, username, email, groups, csrf_token, id_token, access_token, refresh_token, \
         access_expires_at, signed_in_at, auth_time, last_refresh_at, refresh_count, refresh_lease_until, \
         expires_at, public_id, user_agent, last_seen_at"
    };
}

/// Stores a new session.
pub async fn insert(db: &Db, row: &SessionRow) -> sqlx::Result<()> {
    const SQL: &str = "insert into sessions (id_hash, user_sub, username, email, groups, csrf_token, \
        id_token, access_token, refresh_token, access_expires_at, signed_in_at, auth_time, \
        last_refresh_at, refresh_count, expires_at, public_id, user_agent, last_seen_at) \
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
    on_pool!(db, pool => sqlx::query(SQL)
        .bind(&row.id_hash)
        .bind(&row.user_sub)
        .bind(&row.username)
        .bind(&row.email)
        .bind(&row.groups)
        .bind(&row.csrf_token)
        .bind(&row.id_token)
        .bind(&row.access_token)
        .bind(&row.refresh_token)
        .bind(row.access_expires_at)
        .bind(row.signed_in_at)
        .bind(row.auth_time)
        .bind(row.last_refresh_at)
        .bind(row.refresh_count)
        .bind(row.expires_at)
        .bind(&row.public_id)
        .bind(&row.user_agent)
        .bind(row.last_seen_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The session with this id hash, if it has not ended by `now`.
pub async fn find(db: &Db, id_hash: &str, now: i64) -> sqlx::Result<Option<SessionRow>> {
    const SQL: &str = concat!(
        "select ",
        columns!(),
        " from sessions where id_hash = $1 and expires_at > $2"
    );
    on_pool!(db, pool => sqlx::query_as(SQL).bind(id_hash).bind(now).fetch_optional(pool).await)
}

/// How many sessions have not ended by `now`.
pub async fn count_live(db: &Db, now: i64) -> sqlx::Result<u64> {
    const SQL: &str = "select count(*) from sessions where expires_at > $1";
    let count: i64 = on_pool!(db, pool => sqlx::query_scalar(SQL).bind(now).fetch_one(pool).await)?;
    Ok(count.unsigned_abs())
}

/// The sessions of `user_sub` that have not ended by `now`, the most recently signed in first.
pub async fn list_for_user(db: &Db, user_sub: &str, now: i64) -> sqlx::Result<Vec<SessionRow>> {
    const SQL: &str = concat!(
        "select ",
        columns!(),
        " from sessions where user_sub = $1 and expires_at > $2 order by signed_in_at desc, public_id"
    );
    on_pool!(db, pool => sqlx::query_as(SQL).bind(user_sub).bind(now).fetch_all(pool).await)
}

/// The session of `user_sub` with this public id, if it has not ended by `now`. Another user's
/// session is not found, whatever its id.
pub async fn find_by_public_id(
    db: &Db,
    user_sub: &str,
    public_id: &str,
    now: i64,
) -> sqlx::Result<Option<SessionRow>> {
    const SQL: &str = concat!(
        "select ",
        columns!(),
        " from sessions where public_id = $1 and user_sub = $2 and expires_at > $3"
    );
    on_pool!(db, pool => sqlx::query_as(SQL)
        .bind(public_id)
        .bind(user_sub)
        .bind(now)
        .fetch_optional(pool)
        .await)
}

/// Sets the session's `last_seen_at` to `now` if it is older than `stale_before`; whether it
/// wrote. The condition is in the statement, so processes that read the same stale row write it
/// once between them.
pub async fn touch(db: &Db, id_hash: &str, now: i64, stale_before: i64) -> sqlx::Result<bool> {
    const SQL: &str =
        "update sessions set last_seen_at = $1 where id_hash = $2 and last_seen_at < $3";
    let result = on_pool!(db, pool => sqlx::query(SQL)
        .bind(now)
        .bind(id_hash)
        .bind(stale_before)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(result == 1)
}

/// Deletes the session; whether there was one.
pub async fn delete(db: &Db, id_hash: &str) -> sqlx::Result<bool> {
    const SQL: &str = "delete from sessions where id_hash = $1";
    let deleted = on_pool!(db, pool => sqlx::query(SQL)
        .bind(id_hash)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(deleted > 0)
}

/// Deletes up to [`HOUSEKEEPING_BATCH`](crate::db::HOUSEKEEPING_BATCH) sessions that ended by `now`; how many. On PostgreSQL,
/// rows another instance's housekeeping is deleting at the same moment are skipped, not waited
/// for; SQLite runs one writer at a time anyway.
pub async fn delete_ended_batch(db: &Db, now: i64) -> sqlx::Result<u64> {
    super::delete_batch(
        db,
        "delete from sessions where id_hash in \
         (select id_hash from sessions where expires_at <= $1 limit $2)",
        "delete from sessions where id_hash in \
         (select id_hash from sessions where expires_at <= $1 limit $2 for update skip locked)",
        now,
    )
    .await
}

/// A plausible row for unit tests elsewhere in the crate: signed in at `signed_in_at`, the
/// access token (sealed bytes `[access_token]`) expiring at `access_expires_at`, ending a day later.
#[cfg(test)]
pub(crate) fn test_row(
    id_hash: &str,
    signed_in_at: i64,
    access_expires_at: i64,
    access_token: u8,
) -> SessionRow {
    SessionRow {
        id_hash: id_hash.into(),
        user_sub: "sub".into(),
        username: "demo".into(),
        email: Some("demo@example.com".into()),
        groups: "".into(),
        csrf_token: "csrf".into(),
        id_token: vec![1],
        access_token: vec![access_token],
        refresh_token: vec![3],
        access_expires_at,
        signed_in_at,
        auth_time: signed_in_at,
        last_refresh_at: None,
        refresh_count: 0,
        refresh_lease_until: 0,
        expires_at: signed_in_at + 86_400,
        public_id: format!("public-{id_hash}"),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into(),
        last_seen_at: signed_in_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::HOUSEKEEPING_BATCH;
    use crate::db::tests::test_pool;

    fn row(id_hash: &str, signed_in_at: i64) -> SessionRow {
        test_row(id_hash, signed_in_at, signed_in_at + 3600, 2)
    }

    #[tokio::test]
    async fn a_session_is_found_until_it_ends_or_is_deleted() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();

        assert_eq!(find(&pool, "a", 1001).await.unwrap(), Some(row("a", 1000)));
        assert_eq!(find(&pool, "a", 1000 + 86_400).await.unwrap(), None);
        assert!(delete(&pool, "a").await.unwrap());
        assert_eq!(find(&pool, "a", 1001).await.unwrap(), None);
        assert!(!delete(&pool, "a").await.unwrap());
    }

    #[tokio::test]
    async fn live_sessions_are_counted_until_they_end() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        insert(&pool, &row("b", 2000)).await.unwrap();

        assert_eq!(count_live(&pool, 1001).await.unwrap(), 2);
        assert_eq!(count_live(&pool, 1000 + 86_400).await.unwrap(), 1);
        assert_eq!(count_live(&pool, 2000 + 86_400).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_users_sessions_are_listed_without_ended_ones_or_other_users() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        insert(&pool, &row("b", 1100)).await.unwrap();
        let mut ended = row("c", 900);
        ended.expires_at = 1050;
        insert(&pool, &ended).await.unwrap();
        let mut other_user = row("d", 1200);
        other_user.user_sub = "someone-else".into();
        insert(&pool, &other_user).await.unwrap();

        let listed = list_for_user(&pool, "sub", 1101).await.unwrap();

        let hashes: Vec<&str> = listed.iter().map(|row| row.id_hash.as_str()).collect();
        assert_eq!(
            hashes,
            ["b", "a"],
            "the newest first; neither ended nor others'"
        );
        assert_eq!(listed[0], row("b", 1100), "every column read back");
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_public_id_only_for_its_own_user() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();

        let own = find_by_public_id(&pool, "sub", "public-a", 1001)
            .await
            .unwrap();
        let others = find_by_public_id(&pool, "someone-else", "public-a", 1001)
            .await
            .unwrap();
        let unknown = find_by_public_id(&pool, "sub", "public-x", 1001)
            .await
            .unwrap();
        let by_hash = find_by_public_id(&pool, "sub", "a", 1001).await.unwrap();
        let ended = find_by_public_id(&pool, "sub", "public-a", 1000 + 86_400)
            .await
            .unwrap();

        assert_eq!(own.map(|row| row.id_hash), Some("a".to_owned()));
        assert_eq!((others, unknown, by_hash, ended), (None, None, None, None));
    }

    #[tokio::test]
    async fn public_ids_are_unique() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        let mut twin = row("b", 1000);
        twin.public_id = "public-a".into();

        assert!(insert(&pool, &twin).await.is_err());
    }

    #[tokio::test]
    async fn last_seen_is_written_only_when_older_than_asked() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();

        let fresh = touch(&pool, "a", 1030, 1000).await.unwrap();
        let stale = touch(&pool, "a", 1070, 1010).await.unwrap();
        let again = touch(&pool, "a", 1071, 1011).await.unwrap();

        assert!(!fresh && stale && !again);
        let seen = find(&pool, "a", 1071).await.unwrap().unwrap().last_seen_at;
        assert_eq!(seen, 1070);
    }

    #[tokio::test]
    async fn ended_sessions_are_deleted_in_batches_and_live_ones_kept() {
        let (pool, _dir) = test_pool().await;
        let ended = HOUSEKEEPING_BATCH + 20;
        for n in 0..ended {
            let mut row = row(&format!("ended-{n}"), 1000);
            row.expires_at = 2000;
            insert(&pool, &row).await.unwrap();
        }
        insert(&pool, &row("live", 1000)).await.unwrap();

        let first = delete_ended_batch(&pool, 2000).await.unwrap();
        let second = delete_ended_batch(&pool, 2000).await.unwrap();
        let third = delete_ended_batch(&pool, 2000).await.unwrap();

        assert_eq!((first, second, third), (HOUSEKEEPING_BATCH as u64, 20, 0));
        assert!(find(&pool, "live", 2000).await.unwrap().is_some());
        assert_eq!(
            count_live(&pool, 0).await.unwrap(),
            1,
            "only the live one is left"
        );
    }

    #[tokio::test]
    async fn sessions_started_before_public_ids_each_get_one_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let (before, added) = crate::db::migrations::SQLITE.split_at(3);
        for &(_, _, sql) in before {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        for id_hash in ["a", "b"] {
            sqlx::query(
                "insert into sessions (id_hash, user_sub, username, groups, csrf_token, id_token, \
                 access_token, refresh_token, access_expires_at, signed_in_at, last_refresh_at, \
                 expires_at) values (?, 'sub', 'demo', '', 'csrf', x'01', x'02', x'03', 2000, 1000, \
                 1500, 90000)",
            )
            .bind(id_hash)
            .execute(&pool)
            .await
            .unwrap();
        }

        sqlx::raw_sql(added[0].2).execute(&pool).await.unwrap();

        let rows = list_for_user(&Db::Sqlite(pool), "sub", 1001).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_ne!(rows[0].public_id, rows[1].public_id);
        for row in &rows {
            assert_eq!(row.public_id.len(), 32, "128 random bits in hex");
            assert_eq!((row.user_agent.as_str(), row.last_seen_at), ("", 1500));
        }
    }
}
