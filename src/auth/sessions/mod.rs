//! Sessions: starting one after a verified sign-in, finding one by the id in its cookie, the
//! refresh lease and the refreshed tokens, and ending one. `SessionStore` is the only code that
//! reads or writes the sessions table, so the cache in front of it (`auth::cache`) always knows
//! what changed. Tokens are sealed before they are stored.

mod changes;
mod lease;

use std::sync::Arc;
use std::time::Instant;

use crate::auth::cache::{Profile, SessionCache};
use crate::auth::id_token::IdTokenClaims;
use crate::auth::idp::TokenSet;
use crate::clock;
use crate::db::{self, Db, sessions::SessionRow};
use crate::metrics;
use crate::secrets::{Secret, TokenCipher, hash, random_token};

pub use changes::SessionWatch;
pub use lease::{Lease, Refreshed};

/// The group whose members may open `/admin`.
pub const ADMIN_GROUP: &str = "admins";

/// How much of the browser's User-Agent a session keeps, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// How stale a session's `last_seen_at` may get before a read of its row writes it again: the
/// page of sessions shows it to the minute, and a write per request would cost every request.
pub const LAST_SEEN_EVERY_SECONDS: i64 = 60;

/// Who is signed in, from the verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub username: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|group| group == ADMIN_GROUP)
    }

    /// The name the pages greet the user with.
    pub fn display_name(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.username)
    }
}

/// A signed-in browser's session. Its tokens stay sealed until [`SessionStore`] opens one.
/// Cloning it is cheap (the cache hands out a copy on every request): the data is shared.
#[derive(Debug, Clone)]
pub struct Session(Arc<SessionData>);

/// What a [`Session`] holds: its row, with the user's fields as a [`User`].
#[derive(Debug)]
pub struct SessionData {
    /// The key of the session's row: the hash of the id in its cookie.
    pub id_hash: String,
    pub user: User,
    /// Proves a form came from one of this session's pages.
    pub csrf_token: Secret<String>,
    pub signed_in_at: i64,
    /// When the user authenticated at the IdP (the ID token's `auth_time`), for pages that want
    /// a recent sign-in.
    pub auth_time: i64,
    pub access_expires_at: i64,
    pub last_refresh_at: Option<i64>,
    pub refresh_count: i64,
    /// Unix seconds until which a refresh holds the lease; 0 or past when none does.
    pub refresh_lease_until: i64,
    /// When the session ends at the latest (the cookie's Max-Age from sign-in).
    pub expires_at: i64,
    /// The id `/account/sessions` names the session by; neither the cookie's value nor its hash.
    pub public_id: String,
    /// The browser's User-Agent at sign-in, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: String,
    /// When a request last used the session, to [`LAST_SEEN_EVERY_SECONDS`].
    pub last_seen_at: i64,
    sealed: SealedTokens,
}

/// The session's tokens as stored: sealed, each bound to its row and column.
#[derive(PartialEq, Eq)]
struct SealedTokens {
    id_token: Vec<u8>,
    access_token: Vec<u8>,
    refresh_token: Vec<u8>,
}

impl std::fmt::Debug for SealedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedTokens([sealed])")
    }
}

impl std::ops::Deref for Session {
    type Target = SessionData;

    fn deref(&self) -> &SessionData {
        &self.0
    }
}

impl Session {
    pub(crate) fn from_row(row: SessionRow) -> Self {
        let SessionRow {
            id_hash,
            user_sub,
            username,
            email,
            groups,
            csrf_token,
            id_token,
            access_token,
            refresh_token,
            access_expires_at,
            signed_in_at,
            auth_time,
            last_refresh_at,
            refresh_count,
            refresh_lease_until,
            expires_at,
            public_id,
            user_agent,
            last_seen_at,
        } = row;
        Self(Arc::new(SessionData {
            id_hash,
            user: User {
                sub: user_sub,
                username,
                email,
                groups: db::sessions::split_groups(&groups),
            },
            csrf_token: Secret::new(csrf_token),
            signed_in_at,
            auth_time,
            access_expires_at,
            last_refresh_at,
            refresh_count,
            refresh_lease_until,
            expires_at,
            public_id,
            user_agent,
            last_seen_at,
            sealed: SealedTokens {
                id_token,
                access_token,
                refresh_token,
            },
        }))
    }

    /// Whether `other` carries the same access token (a userInfo answer is good for both).
    pub(crate) fn same_access_token(&self, other: &Session) -> bool {
        self.sealed.access_token == other.sealed.access_token
    }

    /// Whether the user authenticated at the IdP within `max_age` before `now`.
    pub fn authenticated_within(&self, max_age: std::time::Duration, now: i64) -> bool {
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        now.saturating_sub(self.auth_time) <= max_age
    }
}

/// The token columns of `sessions`. Each sealed token is bound to its column and row, so a
/// ciphertext copied to another column or row does not open.
#[derive(Debug, Clone, Copy)]
enum TokenColumn {
    Id,
    Access,
    Refresh,
}

impl TokenColumn {
    fn context(self, id_hash: &str) -> String {
        let column = match self {
            Self::Id => "id_token",
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        };
        format!("sessions.{column}:{id_hash}")
    }
}

/// The sessions table, with tokens sealed by `APP_SECRET`, and the cache in front of it.
pub struct SessionStore {
    pool: Db,
    cipher: TokenCipher,
    max_age_seconds: i64,
    cache: SessionCache,
    /// Whether the changes other processes make arrive as notifications right now (PostgreSQL,
    /// while the feed's connection is up; see `changes`).
    follows_changes: std::sync::atomic::AtomicBool,
}

impl SessionStore {
    pub fn new(pool: Db, cipher: TokenCipher, max_age: std::time::Duration) -> Self {
        Self {
            pool,
            cipher,
            max_age_seconds: i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            cache: SessionCache::default(),
            follows_changes: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts a session for a verified sign-in from a browser that sent `user_agent`, and returns
    /// the id for its cookie. The id is new every time: an id the browser had before signing in
    /// is never the session after it.
    pub async fn start(
        &self,
        claims: &IdTokenClaims,
        tokens: &TokenSet,
        access_expires_at: i64,
        user_agent: &str,
    ) -> anyhow::Result<String> {
        let id = random_token(32);
        let id_hash = hash(&id);
        let now = clock::now();
        let refresh_token = tokens
            .refresh_token
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no refresh token"))?;
        let row = SessionRow {
            user_sub: claims.sub.clone(),
            username: claims
                .username
                .clone()
                .unwrap_or_else(|| claims.sub.clone()),
            email: claims.email.clone(),
            groups: db::sessions::join_groups(&claims.groups),
            csrf_token: random_token(32),
            id_token: self.seal(&tokens.id_token, TokenColumn::Id, &id_hash),
            access_token: self.seal(&tokens.access_token, TokenColumn::Access, &id_hash),
            refresh_token: self.seal(refresh_token, TokenColumn::Refresh, &id_hash),
            access_expires_at,
            signed_in_at: now,
            auth_time: claims.authenticated_at(),
            last_refresh_at: None,
            refresh_count: 0,
            refresh_lease_until: 0,
            expires_at: now.saturating_add(self.max_age_seconds),
            public_id: random_token(16),
            user_agent: shortened_user_agent(user_agent),
            last_seen_at: now,
            id_hash,
        };
        db::sessions::insert(&self.pool, &row).await?;
        Ok(id)
    }

    /// The live session whose cookie carries `id`, if any: from the cache when it read the row
    /// recently, else from the database.
    ///
    /// A read from the database also keeps `last_seen_at` to the minute: the cache lets at most
    /// one read a second through per session, and of those, one a minute writes.
    pub async fn find(&self, id: &str) -> anyhow::Result<Option<Session>> {
        let id_hash = hash(id);
        let now = clock::now();
        if let Some(session) = self.cache.get(&id_hash, now) {
            metrics::session_cache(true);
            return Ok(Some(session));
        }
        metrics::session_cache(false);
        let read_at = Instant::now();
        let row = match db::sessions::find(&self.pool, &id_hash, now).await? {
            Some(row) => Some(self.seen(row, now).await),
            None => None,
        };
        Ok(self.remember(&id_hash, row, read_at))
    }

    /// `row`, its `last_seen_at` moved to `now` when it is more than
    /// [`LAST_SEEN_EVERY_SECONDS`] old. A failed write is logged and costs only the last-seen time.
    async fn seen(&self, mut row: SessionRow, now: i64) -> SessionRow {
        let stale_before = now.saturating_sub(LAST_SEEN_EVERY_SECONDS);
        if row.last_seen_at >= stale_before {
            return row;
        }
        match db::sessions::touch(&self.pool, &row.id_hash, now, stale_before).await {
            Ok(true) => row.last_seen_at = now,
            // Another process wrote it a moment ago; the next read has its time.
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(user = %row.user_sub, error = %error, "last seen time not written");
            }
        }
        row
    }

    /// The live sessions of the user `sub`, the most recently signed in first, as the database
    /// holds them now. For the page of sessions; the cache is neither read nor filled.
    pub async fn list_for_user(&self, sub: &str) -> anyhow::Result<Vec<Session>> {
        let rows = db::sessions::list_for_user(&self.pool, sub, clock::now()).await?;
        Ok(rows.into_iter().map(Session::from_row).collect())
    }

    /// The live session of the user `sub` that `public_id` names. Another user's session is not
    /// found, whatever its id, so a guessed or copied id reaches nobody else's session.
    pub async fn find_by_public_id(
        &self,
        sub: &str,
        public_id: &str,
    ) -> anyhow::Result<Option<Session>> {
        let row = db::sessions::find_by_public_id(&self.pool, sub, public_id, clock::now()).await?;
        Ok(row.map(Session::from_row))
    }

    /// The session as the database holds it now, bypassing the cache (and refreshing it).
    pub async fn reload(&self, session: &Session) -> anyhow::Result<Option<Session>> {
        self.read(&session.id_hash, clock::now()).await
    }

    async fn read(&self, id_hash: &str, now: i64) -> anyhow::Result<Option<Session>> {
        let read_at = Instant::now();
        let row = db::sessions::find(&self.pool, id_hash, now).await?;
        Ok(self.remember(id_hash, row, read_at))
    }

    /// What a database read begun at `read_at` said about the session of `id_hash`, as the
    /// cache keeps it.
    fn remember(
        &self,
        id_hash: &str,
        row: Option<SessionRow>,
        read_at: Instant,
    ) -> Option<Session> {
        let session = row.map(Session::from_row);
        match &session {
            Some(session) => self.cache.put(session, read_at),
            None => self.cache.remove(id_hash),
        }
        session
    }

    /// Ends `session`.
    pub async fn end(&self, session: &Session) -> anyhow::Result<()> {
        db::sessions::delete(&self.pool, &session.id_hash).await?;
        self.cache.drop_session(&session.id_hash);
        Ok(())
    }

    /// Deletes one batch of sessions that have ended; how many (see `app::housekeeping`).
    pub async fn delete_ended_batch(&self) -> anyhow::Result<u64> {
        Ok(db::sessions::delete_ended_batch(&self.pool, clock::now()).await?)
    }

    /// Forgets every cached session, for tools and tests that change the database behind the
    /// app's back and cannot wait for the cache's revalidation.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// The userInfo answer fetched with the session's current access token, if there is one.
    pub fn cached_profile(&self, session: &Session) -> Option<Arc<Profile>> {
        self.cache.profile(session)
    }

    /// Keeps a userInfo answer for as long as the access token it was fetched with.
    pub fn keep_profile(&self, session: &Session, profile: &Arc<Profile>) {
        self.cache.put_profile(session, profile);
    }

    pub fn access_token(&self, session: &Session) -> anyhow::Result<Secret<String>> {
        self.open(&session.sealed.access_token, TokenColumn::Access, session)
    }

    pub fn refresh_token(&self, session: &Session) -> anyhow::Result<Secret<String>> {
        self.open(&session.sealed.refresh_token, TokenColumn::Refresh, session)
    }

    /// How many sessions have not expired (for the metrics; one count over the table).
    pub async fn count_live(&self) -> anyhow::Result<u64> {
        Ok(db::sessions::count_live(&self.pool, clock::now()).await?)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        Ok(db::ping(&self.pool).await?)
    }

    fn seal(&self, token: &Secret<String>, column: TokenColumn, id_hash: &str) -> Vec<u8> {
        self.cipher
            .encrypt(token.expose(), &column.context(id_hash))
    }

    fn open(
        &self,
        sealed: &[u8],
        column: TokenColumn,
        session: &Session,
    ) -> anyhow::Result<Secret<String>> {
        Ok(self
            .cipher
            .decrypt(sealed, &column.context(&session.id_hash))?)
    }
}

/// The User-Agent as a session keeps it: control characters dropped, cut to
/// [`MAX_USER_AGENT_CHARS`] (it is shown back to the user, and any browser may send any length).
fn shortened_user_agent(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sessions::test_row;

    #[test]
    fn a_session_takes_the_user_and_times_from_its_row() {
        let mut row = test_row("h", 1_000, 4_600, 7);
        row.groups = "admins readers".into();
        row.email = Some("demo@example.com".into());
        row.csrf_token = "Zx9-secret-csrf-value".into();

        let session = Session::from_row(row);

        assert_eq!(session.id_hash, "h");
        assert_eq!(session.user.groups, ["admins", "readers"]);
        assert!(session.user.is_admin());
        assert_eq!(session.user.display_name(), "demo@example.com");
        assert_eq!(
            (session.signed_in_at, session.access_expires_at),
            (1_000, 4_600)
        );
        assert!(!format!("{session:?}").contains(session.csrf_token.expose()));
    }

    #[test]
    fn a_sign_in_is_recent_enough_up_to_and_including_its_maximum_age() {
        let mut row = test_row("h", 1_000, 4_600, 7);
        row.auth_time = 900;
        let session = Session::from_row(row);
        let five_minutes = std::time::Duration::from_secs(300);

        assert!(session.authenticated_within(five_minutes, 1_200));
        assert!(!session.authenticated_within(five_minutes, 1_201));
    }

    #[test]
    fn a_token_sealed_for_one_column_does_not_open_in_another() {
        let cipher = TokenCipher::new(&Secret::new(vec![7; 64]));
        let sealed = cipher.encrypt("token", &TokenColumn::Access.context("h"));

        assert!(
            cipher
                .decrypt(&sealed, &TokenColumn::Access.context("h"))
                .is_ok()
        );
        assert!(
            cipher
                .decrypt(&sealed, &TokenColumn::Refresh.context("h"))
                .is_err()
        );
        assert!(
            cipher
                .decrypt(&sealed, &TokenColumn::Access.context("other"))
                .is_err()
        );
    }

    async fn store() -> (SessionStore, db::tests::TestDatabase) {
        let (pool, dir) = crate::db::tests::test_pool().await;
        let cipher = TokenCipher::new(&Secret::new(vec![7; 64]));
        let store = SessionStore::new(pool, cipher, std::time::Duration::from_secs(86_400));
        (store, dir)
    }

    /// A row of `sub`, signed in `ago` seconds before now and seen then.
    fn row_of(sub: &str, id_hash: &str, ago: i64) -> SessionRow {
        let signed_in_at = clock::now() - ago;
        let mut row = test_row(id_hash, signed_in_at, signed_in_at + 3600, 2);
        row.user_sub = sub.into();
        row
    }

    #[tokio::test]
    async fn a_session_starts_with_a_public_id_of_its_own_and_a_shortened_user_agent() {
        let (store, _dir) = store().await;
        let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
            "sub": "sub-1", "cognito:username": "demo", "token_use": "id", "iat": 0, "exp": 0,
        }))
        .unwrap();
        let tokens = TokenSet {
            id_token: Secret::new("id".into()),
            access_token: Secret::new("access".into()),
            refresh_token: Some(Secret::new("refresh".into())),
            expires_in: std::time::Duration::from_secs(3600),
        };
        let long = format!("Mozilla/5.0\n{}", "x".repeat(500));

        let first = store.start(&claims, &tokens, 0, &long).await.unwrap();
        let second = store
            .start(&claims, &tokens, 0, "curl/8.5.0")
            .await
            .unwrap();

        let first = store.find(&first).await.unwrap().unwrap();
        let second = store.find(&second).await.unwrap().unwrap();
        assert_eq!(first.user_agent.chars().count(), MAX_USER_AGENT_CHARS);
        assert!(
            first.user_agent.starts_with("Mozilla/5.0x"),
            "no control characters"
        );
        assert_eq!(second.user_agent, "curl/8.5.0");
        assert_ne!(first.public_id, second.public_id);
        for session in [&first, &second] {
            assert_eq!(session.public_id.len(), 22, "128 random bits");
            assert_ne!(session.public_id, session.id_hash);
            assert!((session.last_seen_at - clock::now()).abs() <= 1);
        }
    }

    #[tokio::test]
    async fn a_users_sessions_are_listed_newest_first_without_other_users() {
        let (store, _dir) = store().await;
        for row in [
            row_of("sub-1", "old", 200),
            row_of("sub-1", "new", 100),
            row_of("sub-2", "other", 50),
        ] {
            db::sessions::insert(&store.pool, &row).await.unwrap();
        }

        let listed = store.list_for_user("sub-1").await.unwrap();

        let hashes: Vec<&str> = listed.iter().map(|s| s.id_hash.as_str()).collect();
        assert_eq!(hashes, ["new", "old"]);
        assert_eq!(listed[0].public_id, "public-new");
    }

    #[tokio::test]
    async fn a_public_id_finds_a_session_of_its_own_user_only() {
        let (store, _dir) = store().await;
        db::sessions::insert(&store.pool, &row_of("sub-1", "h", 10))
            .await
            .unwrap();

        let own = store.find_by_public_id("sub-1", "public-h").await.unwrap();
        let others = store.find_by_public_id("sub-2", "public-h").await.unwrap();
        let by_hash = store.find_by_public_id("sub-1", "h").await.unwrap();

        assert_eq!(own.map(|s| s.id_hash.clone()), Some("h".to_owned()));
        assert!(others.is_none() && by_hash.is_none());
    }

    #[tokio::test]
    async fn a_read_from_the_database_writes_last_seen_only_when_it_is_a_minute_old() {
        let (store, _dir) = store().await;
        let mut recent = row_of("sub-1", &hash("recent"), 0);
        recent.last_seen_at = clock::now() - 30;
        let mut stale = row_of("sub-1", &hash("stale"), 0);
        stale.last_seen_at = clock::now() - 61;
        for row in [&recent, &stale] {
            db::sessions::insert(&store.pool, row).await.unwrap();
        }

        let recent_seen = store.find("recent").await.unwrap().unwrap().last_seen_at;
        let stale_seen = store.find("stale").await.unwrap().unwrap().last_seen_at;

        assert_eq!(
            recent_seen, recent.last_seen_at,
            "not written within the minute"
        );
        assert!(stale_seen >= clock::now() - 1, "brought up to now");
        let stored = db::sessions::find(&store.pool, &hash("stale"), clock::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.last_seen_at, stale_seen, "and written");
    }
}
