//! The development IdP's state, shared by its handlers and its control handle: client, keys,
//! authorization codes, managed-login sessions, revocations, changed groups and the test
//! switches. Revocations persist in the data folder; everything else lives as long as the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use super::DevClient;
use super::control::TokenFailure;
use super::discovery::DiscoveryFault;
use super::forgery::Forgery;
use super::keys::KeySet;
use super::tokens::RefreshGrant;
use super::users::DemoUser;
use crate::secrets::Secret;

/// Authorization codes live 5 minutes, as Cognito's.
pub const CODE_TTL_SECONDS: i64 = 300;
/// Managed-login session cookie lifetime: 1 hour, as Cognito's.
pub const LOGIN_TTL_SECONDS: i64 = 3600;

pub struct IdpState {
    pub issuer: String,
    pub client: DevClient,
    pub access_ttl_seconds: i64,
    pub data_dir: PathBuf,
    pub keys: RwLock<KeySet>,
    pub grants: Mutex<Grants>,
    pub counts: Mutex<BTreeMap<String, u64>>,
    pub token_failure: Mutex<Option<TokenFailure>>,
    pub refresh_rotation: AtomicBool,
    pub forgery: Mutex<Option<Forgery>>,
    pub discovery_fault: Mutex<DiscoveryFault>,
    /// External identity providers of the pool, by the names `identity_provider=` accepts.
    pub identity_providers: RwLock<Vec<String>>,
    /// Groups changed at run time, by `sub`; a demo user not listed has the groups of its table.
    pub groups: Mutex<HashMap<String, Vec<String>>>,
}

/// A managed-login session, the `cognito` cookie's meaning.
pub struct Login {
    pub sub: String,
    pub expires_at: i64,
    /// When the user typed the password: every code of this session carries it as `auth_time`.
    pub auth_time: i64,
}

#[derive(Default)]
pub struct Grants {
    pub codes: HashMap<String, CodeGrant>,
    /// Managed-login sessions by `cognito` cookie value.
    pub logins: HashMap<String, Login>,
    /// Revoked `origin_jti`s (a revoked refresh token and everything minted from it) and
    /// refresh-token `jti`s retired by rotation. Kept in the data folder across restarts.
    pub revoked: HashSet<String>,
    /// Origin jtis of the refresh tokens issued to each `sub` since start-up.
    pub issued: HashMap<String, Vec<String>>,
}

/// An authorization code's grant: single use, 5 minutes, bound to client, redirect and PKCE.
#[derive(Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    /// A one-time value: kept out of `Debug` like the code itself.
    pub code_challenge: Option<Secret<String>>,
    pub nonce: Option<String>,
    pub scope: String,
    pub sub: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

impl fmt::Debug for CodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeGrant")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("code_challenge", &self.code_challenge)
            .field("nonce", &self.nonce)
            .field("scope", &self.scope)
            .field("sub", &self.sub)
            .field("auth_time", &self.auth_time)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl IdpState {
    pub fn new(
        issuer: String,
        client: DevClient,
        access_token_ttl: Duration,
        data_dir: PathBuf,
        keys: KeySet,
        identity_providers: Vec<String>,
    ) -> Self {
        let revoked = load_revoked(&data_dir);
        Self {
            issuer,
            client,
            access_ttl_seconds: access_token_ttl.as_secs() as i64,
            data_dir,
            keys: RwLock::new(keys),
            grants: Mutex::new(Grants {
                revoked,
                ..Grants::default()
            }),
            counts: Mutex::new(BTreeMap::new()),
            token_failure: Mutex::new(None),
            refresh_rotation: AtomicBool::new(false),
            forgery: Mutex::new(None),
            discovery_fault: Mutex::new(DiscoveryFault::None),
            identity_providers: RwLock::new(identity_providers),
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// One more call of `endpoint`, for `/_dev/counts`.
    pub fn count(&self, endpoint: &str) {
        *self
            .counts
            .lock()
            .expect("counts lock")
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    /// The forgery a test asked for, once.
    pub fn take_forgery(&self) -> Option<Forgery> {
        self.forgery.lock().expect("forgery lock").take()
    }

    pub fn keys(&self) -> KeySet {
        self.keys.read().expect("keys lock").clone()
    }

    /// Revokes a token family (`origin_jti`) or one rotated refresh token (`jti`), for good.
    pub fn revoke(&self, id: &str) {
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

    pub fn is_revoked(&self, grant: &RefreshGrant) -> bool {
        let grants = self.grants.lock().expect("grants lock");
        grants.revoked.contains(&grant.origin_jti) || grants.revoked.contains(&grant.jti)
    }

    /// The groups `user` is in now: changed at run time, or else those of the demo table.
    pub fn groups_of(&self, user: &DemoUser) -> Vec<String> {
        match self.groups.lock().expect("groups lock").get(user.sub) {
            Some(groups) => groups.clone(),
            None => user
                .groups
                .iter()
                .map(|group| (*group).to_owned())
                .collect(),
        }
    }

    /// Whether `identity_provider=name` names a sign-in option of this pool. `COGNITO` (the
    /// pool's own users) always is. Names are compared exactly.
    pub fn knows_identity_provider(&self, name: &str) -> bool {
        name == "COGNITO"
            || self
                .identity_providers
                .read()
                .expect("identity providers lock")
                .iter()
                .any(|known| known == name)
    }

    pub fn discovery_fault(&self) -> DiscoveryFault {
        *self.discovery_fault.lock().expect("discovery fault lock")
    }

    /// Origin jtis of refresh tokens issued to `sub` since start-up (tracked for global sign-out).
    pub fn issued_origins(&self, sub: &str) -> Vec<String> {
        self.grants
            .lock()
            .expect("grants lock")
            .issued
            .get(sub)
            .cloned()
            .unwrap_or_default()
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
