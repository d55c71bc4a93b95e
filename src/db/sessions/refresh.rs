//! The refresh lease of `sessions` and what a refresh writes: each write after the lease is taken
//! names the lease's token, so a holder whose lease lapsed writes nothing. Every statement is a
//! single conditional `UPDATE`: no row lock is held beyond it, and none across the IdP call.

use crate::db::{Db, on_pool};

/// The rows one statement changed.
macro_rules! changed {
    ($db:expr, $sql:expr, $($bind:expr),+ $(,)?) => {
        on_pool!($db, pool => sqlx::query($sql)
            $(.bind($bind))+
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
    };
}

/// Takes the refresh lease of a session until `until` under `token`, if nobody holds it at `now`
/// (never taken, given back, or lapsed because its holder died).
///
/// The condition and the write are one statement, so of any number of requests, in any number of
/// processes sharing the database, exactly one gets `true` until the lease ends or is released.
pub async fn take_refresh_lease(
    db: &Db,
    id_hash: &str,
    token: &str,
    now: i64,
    until: i64,
) -> sqlx::Result<bool> {
    const SQL: &str = "update sessions set refresh_lease_until = $1, refresh_lease_token = $2 \
         where id_hash = $3 and refresh_lease_until <= $4";
    Ok(changed!(db, SQL, until, token, id_hash, now)? == 1)
}

/// Extends the lease held under `token` until `until`; `false` when it is no longer held.
pub async fn renew_refresh_lease(
    db: &Db,
    id_hash: &str,
    token: &str,
    until: i64,
) -> sqlx::Result<bool> {
    const SQL: &str = "update sessions set refresh_lease_until = $1 \
         where id_hash = $2 and refresh_lease_token = $3";
    Ok(changed!(db, SQL, until, id_hash, token)? == 1)
}

/// Gives the lease held under `token` back without storing anything (the refresh failed and
/// the session stays). Nothing happens when that lease is no longer held.
pub async fn release_refresh_lease(db: &Db, id_hash: &str, token: &str) -> sqlx::Result<()> {
    const SQL: &str = "update sessions set refresh_lease_until = 0, refresh_lease_token = null \
         where id_hash = $1 and refresh_lease_token = $2";
    changed!(db, SQL, id_hash, token)?;
    Ok(())
}

/// Stores a rotated refresh token at once, if the lease is still held under `token`: the IdP has
/// retired the old one, so it must not be lost if anything after the token call fails.
pub async fn store_refresh_token(
    db: &Db,
    id_hash: &str,
    token: &str,
    refresh_token: &[u8],
) -> sqlx::Result<bool> {
    const SQL: &str = "update sessions set refresh_token = $1 \
         where id_hash = $2 and refresh_lease_token = $3";
    Ok(changed!(db, SQL, refresh_token, id_hash, token)? == 1)
}

/// Tokens from a refresh, already sealed.
#[derive(Debug, Clone)]
pub struct RefreshedTokens {
    pub id_token: Vec<u8>,
    pub access_token: Vec<u8>,
    /// Present when the IdP rotated the refresh token.
    pub refresh_token: Option<Vec<u8>>,
    pub access_expires_at: i64,
    pub groups: String,
    pub email: Option<String>,
    /// The refreshed ID token's `auth_time`, if it has one; stored only when newer than the
    /// session's (a refresh is not a sign-in, and Cognito keeps the original `auth_time`).
    pub auth_time: Option<i64>,
    pub refreshed_at: i64,
}

/// Stores refreshed tokens and releases the lease, in one statement, if the lease is still held
/// under `token`; `false` when it is not (the session ended, or the lease lapsed and another
/// holder took it).
pub async fn store_refreshed_tokens(
    db: &Db,
    id_hash: &str,
    token: &str,
    tokens: &RefreshedTokens,
) -> sqlx::Result<bool> {
    // `case` rather than SQLite's max() or PostgreSQL's greatest(): both read it alike, and a
    // NULL `auth_time` compares as not newer.
    const SQL: &str = "update sessions set id_token = $1, access_token = $2, \
         refresh_token = coalesce($3, refresh_token), access_expires_at = $4, groups = $5, \
         email = $6, auth_time = case when $7 > auth_time then $7 else auth_time end, \
         last_refresh_at = $8, refresh_count = refresh_count + 1, \
         refresh_lease_until = 0, refresh_lease_token = null \
         where id_hash = $9 and refresh_lease_token = $10";
    let changed = changed!(
        db,
        SQL,
        &tokens.id_token,
        &tokens.access_token,
        &tokens.refresh_token,
        tokens.access_expires_at,
        &tokens.groups,
        &tokens.email,
        tokens.auth_time,
        tokens.refreshed_at,
        id_hash,
        token,
    )?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sessions::{SessionRow, find, insert, test_row};
    use crate::db::tests::test_pool;

    fn row(id_hash: &str, signed_in_at: i64) -> SessionRow {
        test_row(id_hash, signed_in_at, signed_in_at + 3600, 2)
    }

    #[tokio::test]
    async fn one_lease_at_a_time_until_it_expires_or_is_released() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();

        assert!(
            take_refresh_lease(&pool, "a", "t1", 1000, 1030)
                .await
                .unwrap()
        );
        assert!(
            !take_refresh_lease(&pool, "a", "t2", 1010, 1040)
                .await
                .unwrap()
        );
        assert!(
            take_refresh_lease(&pool, "a", "t3", 1030, 1060)
                .await
                .unwrap()
        );
        release_refresh_lease(&pool, "a", "t3").await.unwrap();
        assert!(
            take_refresh_lease(&pool, "a", "t4", 1031, 1061)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_holder_whose_lease_lapsed_cannot_write_over_the_next_holder() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        let tokens = |access: u8| RefreshedTokens {
            id_token: vec![9],
            access_token: vec![access],
            refresh_token: Some(vec![access]),
            access_expires_at: 5000,
            groups: String::new(),
            email: None,
            auth_time: None,
            refreshed_at: 1500,
        };
        assert!(
            take_refresh_lease(&pool, "a", "stale", 1000, 1010)
                .await
                .unwrap()
        );
        assert!(
            take_refresh_lease(&pool, "a", "next", 1011, 1021)
                .await
                .unwrap()
        );

        let next_stored = store_refreshed_tokens(&pool, "a", "next", &tokens(2))
            .await
            .unwrap();
        let stale_stored = store_refreshed_tokens(&pool, "a", "stale", &tokens(1))
            .await
            .unwrap();
        let stale_rotated = store_refresh_token(&pool, "a", "stale", &[1])
            .await
            .unwrap();
        let stale_renewed = renew_refresh_lease(&pool, "a", "stale", 2000)
            .await
            .unwrap();
        release_refresh_lease(&pool, "a", "stale").await.unwrap();

        assert!(next_stored);
        assert!(!stale_stored && !stale_rotated && !stale_renewed);
        let kept = find(&pool, "a", 1001).await.unwrap().unwrap();
        assert_eq!((kept.access_token, kept.refresh_token), (vec![2], vec![2]));
        assert_eq!(
            kept.refresh_lease_until, 0,
            "the next holder's store gave the lease back"
        );
    }

    #[tokio::test]
    async fn storing_refreshed_tokens_keeps_the_refresh_token_unless_rotated() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        let mut tokens = RefreshedTokens {
            id_token: vec![9],
            access_token: vec![8],
            refresh_token: None,
            access_expires_at: 5000,
            groups: "admins".into(),
            email: None,
            auth_time: None,
            refreshed_at: 1500,
        };

        assert!(
            take_refresh_lease(&pool, "a", "t", 1000, 1030)
                .await
                .unwrap()
        );
        assert!(
            store_refreshed_tokens(&pool, "a", "t", &tokens)
                .await
                .unwrap()
        );
        let kept = find(&pool, "a", 1501).await.unwrap().unwrap();
        tokens.refresh_token = Some(vec![7]);
        assert!(
            take_refresh_lease(&pool, "a", "u", 1501, 1530)
                .await
                .unwrap()
        );
        assert!(
            store_refreshed_tokens(&pool, "a", "u", &tokens)
                .await
                .unwrap()
        );
        let rotated = find(&pool, "a", 1501).await.unwrap().unwrap();

        assert_eq!(
            (kept.refresh_token, kept.access_token, kept.refresh_count),
            (vec![3], vec![8], 1)
        );
        assert_eq!(
            (kept.last_refresh_at, kept.groups.as_str()),
            (Some(1500), "admins")
        );
        assert_eq!((rotated.refresh_token, rotated.refresh_count), (vec![7], 2));
    }

    #[tokio::test]
    async fn a_refresh_keeps_the_sign_in_time_unless_its_id_token_carries_a_newer_one() {
        let (pool, _dir) = test_pool().await;
        insert(&pool, &row("a", 1000)).await.unwrap();
        let refreshed = |auth_time: Option<i64>| RefreshedTokens {
            id_token: vec![9],
            access_token: vec![8],
            refresh_token: None,
            access_expires_at: 5000,
            groups: String::new(),
            email: None,
            auth_time,
            refreshed_at: 1500,
        };
        let mut seen = Vec::new();

        for (lease, auth_time) in [("t1", None), ("t2", Some(900)), ("t3", Some(1200))] {
            assert!(
                take_refresh_lease(&pool, "a", lease, 1500, 1530)
                    .await
                    .unwrap()
            );
            assert!(
                store_refreshed_tokens(&pool, "a", lease, &refreshed(auth_time))
                    .await
                    .unwrap()
            );
            seen.push(find(&pool, "a", 1501).await.unwrap().unwrap().auth_time);
        }

        assert_eq!(seen, [1000, 1000, 1200]);
    }
}
