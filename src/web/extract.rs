//! Extractors: protection is visible in a handler's signature. [`MaybeSignedIn`] for public
//! pages, [`SignedIn`] for protected ones, [`Fresh`] when the handler needs the user's tokens,
//! [`Admin`] for members of the admins group. The session lookup, [`session`], is the one place
//! a request's session is found; it leaves what it found in the request's extensions, where the
//! error pages read it instead of looking again.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::auth::sign_in::MaxAuthAge;
use crate::auth::{Session, SessionError};
use crate::clock;
use crate::cookies::{self, SESSION_COOKIE};
use crate::web::errors::AppError;
use crate::web::state::AppState;

/// Most browsers send at most one session cookie; a few more mean overlapping scopes. Beyond this,
/// the extra ones are not looked up.
pub const MAX_SESSION_COOKIES: usize = 4;

/// What the request's session cookies led to.
#[derive(Clone)]
pub enum Lookup {
    Found(Session),
    NoCookie,
    /// The browser sent a session cookie that names no live session.
    Stale,
}

/// The request's session: found once per request (through the store's cache), then kept in the
/// request's extensions for the other extractors and the error page.
pub async fn session(req: &HttpRequest) -> Result<Lookup, AppError> {
    if let Some(lookup) = req.extensions().get::<Lookup>() {
        return Ok(lookup.clone());
    }
    let lookup = look_up(req).await?;
    remember(req, lookup.clone());
    Ok(lookup)
}

/// The session the request's extractors found, if any; never looks it up. For error pages.
pub fn found_session(req: &HttpRequest) -> Option<Session> {
    match req.extensions().get::<Lookup>() {
        Some(Lookup::Found(session)) => Some(session.clone()),
        _ => None,
    }
}

fn remember(req: &HttpRequest, lookup: Lookup) {
    req.extensions_mut().insert(lookup);
}

async fn look_up(req: &HttpRequest) -> Result<Lookup, AppError> {
    let ids = cookies::read_all(req.headers(), SESSION_COOKIE);
    if ids.is_empty() {
        return Ok(Lookup::NoCookie);
    }
    let state = AppState::of(req);
    // With cookies of an earlier deployment's scope beside the current one, the live one wins.
    for id in ids.iter().take(MAX_SESSION_COOKIES) {
        if let Some(session) = state.sessions.find(id).await? {
            // Every later log line of the request names the user (the `sub`, never a token).
            tracing::Span::current().record("user", session.user.sub.as_str());
            return Ok(Lookup::Found(session));
        }
    }
    Ok(Lookup::Stale)
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// A request that may or may not come from a signed-in browser (public pages).
pub struct MaybeSignedIn(pub Option<Session>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            Ok(match session(&req).await? {
                Lookup::Found(session) => MaybeSignedIn(Some(session)),
                Lookup::NoCookie | Lookup::Stale => MaybeSignedIn(None),
            })
        })
    }
}

/// A request from a signed-in browser. Taking it as a handler argument protects the handler:
/// without a session the request is answered by a redirect to sign in.
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(&req).await.map(SignedIn) })
    }
}

async fn signed_in(req: &HttpRequest) -> Result<Session, AppError> {
    match session(req).await? {
        Lookup::Found(session) => Ok(session),
        Lookup::NoCookie => Err(AppError::NotSignedIn {
            stale_cookie: false,
        }),
        Lookup::Stale => Err(AppError::NotSignedIn { stale_cookie: true }),
    }
}

/// A signed-in request whose access token is good for at least the refresh margin: the handler
/// needs the user's tokens (it calls the IdP with them). Refreshes first when needed; an IdP that
/// cannot be reached is the service-unavailable page.
pub struct Fresh(pub Session);

impl FromRequest for Fresh {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = signed_in(&req).await?;
            let session = AppState::of(&req).refresher.fresh(session).await?;
            remember(&req, Lookup::Found(session.clone()));
            Ok(Fresh(session))
        })
    }
}

/// A signed-in member of the admins group, judged by the groups of a fresh ID token. When the
/// IdP cannot be reached, the groups of the last verified token decide for a bounded time
/// ([`STALE_GROUPS_GRACE_SECONDS`] past that token's expiry) and `notice` says so; after that the
/// page is the service-unavailable one. With `ADMIN_MAX_AUTH_AGE`, a member whose sign-in is
/// older is sent to sign in again, as if not signed in; `/auth/sign-in` then asks the IdP for a
/// fresh sign-in (`prompt=login`) and comes back here.
pub struct Admin {
    pub session: Session,
    pub notice: Option<&'static str>,
}

/// How long past the last verified access token's expiry `/admin` may still rely on its groups
/// while the IdP cannot be reached: a user removed from `admins` keeps access at most this long
/// beyond the token's own lifetime.
pub const STALE_GROUPS_GRACE_SECONDS: i64 = 300;

const STALE_GROUPS_NOTICE: &str = "The identity provider could not be reached, so this page \
     uses your groups as of your last sign-in or refresh.";

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = signed_in(&req).await?;
            let state = AppState::of(&req);
            let (session, notice) = match state.refresher.fresh(session.clone()).await {
                Ok(fresh) => (fresh, None),
                Err(SessionError::IdpUnreachable(cause))
                    if clock::now() <= session.access_expires_at + STALE_GROUPS_GRACE_SECONDS =>
                {
                    tracing::warn!(
                        error = format!("{cause:#}"),
                        "identity provider unavailable; using the last verified groups"
                    );
                    (session, Some(STALE_GROUPS_NOTICE))
                }
                Err(other) => return Err(other.into()),
            };
            remember(&req, Lookup::Found(session.clone()));
            if !session.user.is_admin() {
                return Err(AppError::Forbidden);
            }
            if !max_auth_age(&req).allows(&session, clock::now()) {
                tracing::info!(user = %session.user.sub, "sign-in too old for /admin; asking for a new one");
                return Err(AppError::NotSignedIn {
                    stale_cookie: false,
                });
            }
            Ok(Admin { session, notice })
        })
    }
}

/// How recent a sign-in `/admin` requires, as `app::Application` registers it; no limit when
/// the app was built without one.
pub fn max_auth_age(req: &HttpRequest) -> MaxAuthAge {
    req.app_data::<web::Data<MaxAuthAge>>()
        .map(|age| *age.get_ref())
        .unwrap_or_default()
}
