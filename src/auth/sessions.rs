//! Sessions: starting one after a verified sign-in, finding the one a request belongs to, and
//! ending it. `SessionStore::find` is the single place a request's session is looked up; the
//! cache in `auth::cache` sits there, invisible to handlers. Tokens are sealed before storage.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use sqlx::SqlitePool;

use crate::auth::cache::{Profile, SessionCache};
use crate::auth::id_token::IdTokenClaims;
use crate::auth::idp::TokenSet;
use crate::clock;
use crate::cookies::{self, SESSION_COOKIE};
use crate::db::{self, sessions::SessionRow};
use crate::error::AppError;
use crate::secrets::{Secret, TokenCipher, hash, random_token};
use crate::startup::AppState;

/// The group whose members may open `/admin`.
pub const ADMIN_GROUP: &str = "admins";

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
}

/// A signed-in browser's session. Its tokens stay sealed until [`SessionStore`] opens one.
/// Cloning it is cheap (the cache hands out a copy on every request): the data is shared.
#[derive(Debug, Clone)]
pub struct Session(Arc<SessionData>);

/// What a [`Session`] holds.
#[derive(Debug)]
pub struct SessionData {
    pub user: User,
    pub csrf_token: String,
    pub signed_in_at: i64,
    pub access_expires_at: i64,
    pub last_refresh_at: Option<i64>,
    pub refresh_count: i64,
    pub(crate) row: SessionRow,
}

impl std::ops::Deref for Session {
    type Target = SessionData;

    fn deref(&self) -> &SessionData {
        &self.0
    }
}

impl Session {
    pub(crate) fn from_row(row: SessionRow) -> Self {
        Self(Arc::new(SessionData {
            user: User {
                sub: row.user_sub.clone(),
                username: row.username.clone(),
                email: row.email.clone(),
                groups: row.groups.split_whitespace().map(str::to_owned).collect(),
            },
            csrf_token: row.csrf_token.clone(),
            signed_in_at: row.signed_in_at,
            access_expires_at: row.access_expires_at,
            last_refresh_at: row.last_refresh_at,
            refresh_count: row.refresh_count,
            row,
        }))
    }

    /// The key of the session's row: the hash of the id in its cookie.
    pub fn id_hash(&self) -> &str {
        &self.row.id_hash
    }
}

/// The sessions table, with tokens sealed by `APP_SECRET`.
pub struct SessionStore {
    pool: SqlitePool,
    cipher: TokenCipher,
    max_age_seconds: i64,
    cache: SessionCache,
}

impl SessionStore {
    pub fn new(pool: SqlitePool, cipher: TokenCipher, max_age: std::time::Duration) -> Self {
        Self {
            pool,
            cipher,
            max_age_seconds: max_age.as_secs() as i64,
            cache: SessionCache::default(),
        }
    }

    /// Starts a session for a verified sign-in and returns the id for its cookie. The id is new
    /// every time: an id the browser had before signing in is never the session after it.
    pub async fn start(&self, claims: &IdTokenClaims, tokens: &TokenSet) -> anyhow::Result<String> {
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
            groups: claims.groups.join(" "),
            csrf_token: random_token(32),
            id_token: self.seal(tokens.id_token.expose(), "id_token", &id_hash),
            access_token: self.seal(tokens.access_token.expose(), "access_token", &id_hash),
            refresh_token: self.seal(refresh_token.expose(), "refresh_token", &id_hash),
            access_expires_at: now + tokens.expires_in.as_secs() as i64,
            signed_in_at: now,
            last_refresh_at: None,
            refresh_count: 0,
            refresh_lease_until: 0,
            expires_at: now + self.max_age_seconds,
            id_hash,
        };
        db::sessions::insert(&self.pool, &row).await?;
        Ok(id)
    }

    /// The live session whose cookie carries `id`, if any.
    pub async fn find(&self, id: &str) -> anyhow::Result<Option<Session>> {
        let id_hash = hash(id);
        let now = clock::now();
        if let Some(session) = self.cache.get(&id_hash, now) {
            return Ok(Some(session));
        }
        self.read(&id_hash, now).await
    }

    /// The session as the database holds it now, bypassing the cache (and refreshing it).
    pub async fn reload(&self, session: &Session) -> anyhow::Result<Option<Session>> {
        self.read(session.id_hash(), clock::now()).await
    }

    async fn read(&self, id_hash: &str, now: i64) -> anyhow::Result<Option<Session>> {
        let session = db::sessions::find(&self.pool, id_hash, now)
            .await?
            .map(Session::from_row);
        match &session {
            Some(session) => self.cache.put(session),
            None => self.cache.remove(id_hash),
        }
        Ok(session)
    }

    /// Ends the session whose cookie carries `id`.
    pub async fn end_by_id(&self, id: &str) -> anyhow::Result<()> {
        self.delete(&hash(id)).await
    }

    /// Ends `session`.
    pub async fn end(&self, session: &Session) -> anyhow::Result<()> {
        self.delete(session.id_hash()).await
    }

    async fn delete(&self, id_hash: &str) -> anyhow::Result<()> {
        db::sessions::delete(&self.pool, id_hash).await?;
        self.cache.end(id_hash);
        Ok(())
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
        Ok(self.cipher.decrypt(
            &session.row.access_token,
            &context("access_token", session.id_hash()),
        )?)
    }

    pub fn refresh_token(&self, session: &Session) -> anyhow::Result<Secret<String>> {
        Ok(self.cipher.decrypt(
            &session.row.refresh_token,
            &context("refresh_token", session.id_hash()),
        )?)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn seal(&self, token: &str, column: &str, id_hash: &str) -> Vec<u8> {
        self.cipher.encrypt(token, &context(column, id_hash))
    }
}

fn context(column: &str, id_hash: &str) -> String {
    format!("sessions.{column}:{id_hash}")
}

/// A request from a signed-in browser. Taking it as a handler argument protects the handler:
/// without a session the request is answered by a redirect to sign in.
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        lookup_then(req, |lookup| match lookup {
            Lookup::Found(session) => Ok(SignedIn(*session)),
            Lookup::NoCookie => Err(AppError::NotSignedIn {
                stale_cookie: false,
            }),
            Lookup::Stale => Err(AppError::NotSignedIn { stale_cookie: true }),
        })
    }
}

/// A request that may or may not come from a signed-in browser (public pages).
pub struct MaybeSignedIn(pub Option<Session>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        lookup_then(req, |lookup| match lookup {
            Lookup::Found(session) => Ok(MaybeSignedIn(Some(*session))),
            Lookup::NoCookie | Lookup::Stale => Ok(MaybeSignedIn(None)),
        })
    }
}

/// Looks the request's session up, then turns the outcome into an extractor's result.
fn lookup_then<T: 'static>(
    req: &HttpRequest,
    then: fn(Lookup) -> Result<T, AppError>,
) -> Pin<Box<dyn Future<Output = Result<T, AppError>>>> {
    let req = req.clone();
    Box::pin(async move { then(current_session(&req).await?) })
}

enum Lookup {
    Found(Box<Session>),
    NoCookie,
    /// The browser sent a session cookie that names no live session.
    Stale,
}

/// The request's session, if it has a live one; lookup failures count as none. For pages that
/// only decorate with it, such as error pages.
pub async fn current(req: &HttpRequest) -> Option<Session> {
    match current_session(req).await {
        Ok(Lookup::Found(session)) => Some(*session),
        _ => None,
    }
}

/// Most browsers send at most one session cookie; a few more mean overlapping scopes. Beyond this,
/// the extra ones are not looked up.
const MAX_SESSION_COOKIES: usize = 4;

async fn current_session(req: &HttpRequest) -> Result<Lookup, AppError> {
    let ids = cookies::read_all(req.headers(), SESSION_COOKIE);
    if ids.is_empty() {
        return Ok(Lookup::NoCookie);
    }
    let state = app_state(req);
    // With cookies of an earlier deployment's scope beside the current one, the live one wins.
    for id in ids.iter().take(MAX_SESSION_COOKIES) {
        if let Some(session) = state.sessions.find(id).await? {
            return Ok(Lookup::Found(Box::new(session)));
        }
    }
    Ok(Lookup::Stale)
}

/// The application state, which every app built by `startup` registers.
pub fn app_state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .expect("startup registers AppState")
}
