//! The development identity provider: a stand-in for a Cognito user pool with managed login, so
//! the app runs and is tested offline. Same paths, parameters, claims, statuses and error bodies
//! as Cognito (shared/docs/cognito-protocol.md §12). The app reaches it only over HTTP.
//!
//! It also has a control surface that Cognito has not, under `/_dev/` on its own port (never on
//! the app's): call counts, failure switches, revocation of a user's tokens and key rotation.

mod forgery;
mod keys;
mod routes;
mod tokens;
pub mod users;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use url::Url;

pub use forgery::Forgery;
pub use keys::KeySet;
pub use routes::CONTROL_HEADER;
use tokens::RefreshGrant;

/// The pool id in the development issuer, shaped like Cognito's `{region}_{id}`.
pub const POOL_ID: &str = "local-1_DevPool";
/// The app client id the development IdP registers for the app.
pub const CLIENT_ID: &str = "devappclient00000000000000";
/// Authorization codes live 5 minutes, as Cognito's.
const CODE_TTL_SECONDS: i64 = 300;
/// Managed-login session cookie lifetime: 1 hour, as Cognito's.
const LOGIN_TTL_SECONDS: i64 = 3600;

/// The app client the development IdP knows: its secret and its registered URLs.
#[derive(Debug, Clone)]
pub struct DevClient {
    pub client_id: String,
    /// `None` for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Allowed callback URLs, matched exactly.
    pub callback_urls: Vec<String>,
    /// Allowed sign-out URLs, matched exactly.
    pub logout_urls: Vec<String>,
}

/// How to start the development IdP.
#[derive(Debug, Clone)]
pub struct DevIdpOptions {
    pub listen: SocketAddr,
    pub access_token_ttl: Duration,
    pub data_dir: PathBuf,
    pub client: DevClient,
}

/// A running development IdP.
pub struct DevIdp {
    pub url: Url,
    pub issuer: String,
    pub client: DevClient,
    pub control: DevIdpControl,
    server: Server,
}

impl DevIdp {
    /// Binds `options.listen` (port 0 picks a free one) and prepares the server.
    pub fn start(options: DevIdpOptions) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(options.listen)
            .with_context(|| format!("binding DEV_IDP_LISTEN {}", options.listen))?;
        let address = listener.local_addr()?;
        let url = Url::parse(&format!("http://{address}")).context("the development IdP's URL")?;
        let issuer = format!("http://{address}/{POOL_ID}");
        let keys = KeySet::load_or_create(&options.data_dir)?;
        let revoked = load_revoked(&options.data_dir);
        let state = Arc::new(IdpState {
            issuer: issuer.clone(),
            client: options.client.clone(),
            access_ttl_seconds: options.access_token_ttl.as_secs() as i64,
            data_dir: options.data_dir,
            keys: RwLock::new(keys),
            grants: Mutex::new(Grants {
                revoked,
                ..Grants::default()
            }),
            counts: Mutex::new(BTreeMap::new()),
            token_failure: Mutex::new(None),
            refresh_rotation: AtomicBool::new(false),
            forgery: Mutex::new(None),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(routes::configure)
        })
        .workers(1)
        .listen(listener)?
        .run();
        Ok(Self {
            url,
            issuer,
            client: options.client,
            control: DevIdpControl(state),
            server,
        })
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// How the token endpoint should misbehave, for tests of failure handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFailure {
    /// Answer with this status (and an empty body) instead of the real answer.
    pub status: Option<u16>,
    /// The body to send with `status` (e.g. something that is not JSON); empty by default.
    #[serde(default)]
    pub body: String,
    /// Wait this long before answering.
    #[serde(default)]
    pub delay_ms: u64,
}

/// The IdP's state, shared by its handlers and its control handle.
struct IdpState {
    issuer: String,
    client: DevClient,
    access_ttl_seconds: i64,
    data_dir: PathBuf,
    keys: RwLock<KeySet>,
    grants: Mutex<Grants>,
    counts: Mutex<BTreeMap<String, u64>>,
    token_failure: Mutex<Option<TokenFailure>>,
    refresh_rotation: AtomicBool,
    forgery: Mutex<Option<Forgery>>,
}

#[derive(Default)]
struct Grants {
    codes: HashMap<String, CodeGrant>,
    /// Managed-login sessions by `cognito` cookie value: (sub, expires at).
    logins: HashMap<String, (String, i64)>,
    /// Revoked `origin_jti`s (a revoked refresh token and everything minted from it) and
    /// refresh-token `jti`s retired by rotation. Kept in the data folder across restarts.
    revoked: HashSet<String>,
    /// Origin jtis of the refresh tokens issued to each `sub` since start-up.
    issued: HashMap<String, Vec<String>>,
}

/// An authorization code's grant: single use, 5 minutes, bound to client, redirect and PKCE.
#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    scope: String,
    sub: String,
    auth_time: i64,
    expires_at: i64,
}

impl IdpState {
    fn count(&self, endpoint: &str) {
        *self
            .counts
            .lock()
            .expect("counts lock")
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    /// The forgery a test asked for, once.
    fn take_forgery(&self) -> Option<Forgery> {
        self.forgery.lock().expect("forgery lock").take()
    }

    fn keys(&self) -> KeySet {
        self.keys.read().expect("keys lock").clone()
    }

    fn revoke(&self, id: &str) {
        let mut grants = self.grants.lock().expect("grants lock");
        if grants.revoked.insert(id.to_owned()) {
            use std::io::Write;
            let path = revoked_path(&self.data_dir);
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut file| writeln!(file, "{id}"));
            if let Err(error) = written {
                tracing::warn!(error = %error, "development IdP could not persist a revocation");
            }
        }
    }

    fn is_revoked(&self, grant: &RefreshGrant) -> bool {
        let grants = self.grants.lock().expect("grants lock");
        grants.revoked.contains(&grant.origin_jti) || grants.revoked.contains(&grant.jti)
    }
}

fn revoked_path(dir: &Path) -> PathBuf {
    dir.join("dev-idp-revoked.txt")
}

fn load_revoked(dir: &Path) -> HashSet<String> {
    std::fs::read_to_string(revoked_path(dir))
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Drives the development IdP from tests and scripts (also over HTTP under `/_dev/`).
#[derive(Clone)]
pub struct DevIdpControl(Arc<IdpState>);

impl DevIdpControl {
    /// Calls per endpoint so far, e.g. `token:refresh_token`, `revoke`, `userInfo`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.0.counts.lock().expect("counts lock").clone()
    }

    /// Calls of one endpoint so far.
    pub fn count(&self, endpoint: &str) -> u64 {
        self.counts().get(endpoint).copied().unwrap_or(0)
    }

    /// Makes `/oauth2/token` fail (or be slow) until [`Self::clear_token_failure`].
    pub fn fail_token_endpoint(&self, failure: TokenFailure) {
        *self.0.token_failure.lock().expect("failure lock") = Some(failure);
    }

    pub fn clear_token_failure(&self) {
        *self.0.token_failure.lock().expect("failure lock") = None;
    }

    /// Revokes every refresh token of `username`, as AdminUserGlobalSignOut does (the managed-login
    /// cookie stays). Returns how many token families were revoked.
    pub fn revoke_user(&self, username: &str) -> usize {
        let Some(user) = users::find(username) else {
            return 0;
        };
        let origins: Vec<String> = self.0.issued_origins(user.sub);
        origins.iter().for_each(|origin| self.0.revoke(origin));
        origins.len()
    }

    /// New signing keys; the old ones stay in the JWKS.
    pub fn rotate_keys(&self) -> anyhow::Result<()> {
        let mut keys = self.0.keys.write().expect("keys lock");
        keys.rotate();
        keys.save(&self.0.data_dir)
    }

    /// Makes the next ID token the token endpoint issues bad in the way `forgery` says.
    pub fn forge_next_id_token(&self, forgery: Forgery) {
        *self.0.forgery.lock().expect("forgery lock") = Some(forgery);
    }

    /// Cognito's refresh-token rotation: every refresh returns a new refresh token and retires the old.
    pub fn set_refresh_rotation(&self, on: bool) {
        self.0.refresh_rotation.store(on, Ordering::SeqCst);
    }
}

impl IdpState {
    /// Origin jtis of refresh tokens issued to `sub` since start-up (tracked for global sign-out).
    fn issued_origins(&self, sub: &str) -> Vec<String> {
        self.grants
            .lock()
            .expect("grants lock")
            .issued
            .get(sub)
            .cloned()
            .unwrap_or_default()
    }
}
