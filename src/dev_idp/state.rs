//! The development IdP's state, shared by its handlers and its control handle: client, keys,
//! authorization codes, managed-login sessions, revocations, refresh-token rotation, changed
//! groups and the test switches. Revocations and rotated-out refresh tokens persist in the data
//! folder; everything else lives as long as the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use super::control::TokenFailure;
use super::discovery::DiscoveryFault;
use super::forgery::Forgery;
use super::keys::KeySet;
use super::rotation::{Admission, Retirements, Rotation, now_millis};
use super::tokens::{RefreshGrant, is_uuid};
use super::users::DemoUser;
use super::{DevClient, DevIdpOptions, files};
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
    /// The app client's refresh-token rotation: on or off, and the retry grace period.
    pub rotation: Rotation,
    /// When each rotated-out refresh token was first used. Kept in the data folder.
    pub retirements: Mutex<Retirements>,
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
    /// Revoked `origin_jti`s (a revoked refresh token and everything minted from it), and any
    /// single refresh-token `jti` listed with them. Kept in the data folder across restarts.
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
    /// The state for `options`, with what earlier runs left in the data folder. A file there that
    /// cannot be read or parsed is an error naming it.
    pub fn new(issuer: String, options: &DevIdpOptions, keys: KeySet) -> anyhow::Result<Self> {
        let data_dir = options.data_dir.clone();
        Ok(Self {
            issuer,
            client: options.client.clone(),
            access_ttl_seconds: options.access_token_ttl.as_secs() as i64,
            keys: RwLock::new(keys),
            grants: Mutex::new(Grants {
                revoked: load_revoked(&data_dir)?,
                ..Grants::default()
            }),
            counts: Mutex::new(BTreeMap::new()),
            token_failure: Mutex::new(None),
            rotation: Rotation::new(options.refresh_rotation, options.rotation_grace),
            retirements: Mutex::new(Retirements::load(&data_dir)?),
            forgery: Mutex::new(None),
            discovery_fault: Mutex::new(DiscoveryFault::None),
            identity_providers: RwLock::new(options.identity_providers.clone()),
            groups: Mutex::new(HashMap::new()),
            data_dir,
        })
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

    /// Revokes a token family (`origin_jti`), for good.
    pub fn revoke(&self, id: &str) {
        let mut grants = self.grants.lock().expect("grants lock");
        if grants.revoked.insert(id.to_owned()) {
            files::append_line(&revoked_path(&self.data_dir), id);
        }
    }

    /// What a refresh with `grant`'s token may do now: refused when its family was revoked or
    /// when rotation retired it longer ago than the grace period. Deciding retires the token when
    /// rotation is on, in one step, so two refreshes racing with one token under a zero grace
    /// period cannot both succeed.
    pub fn admit_refresh(&self, grant: &RefreshGrant) -> Admission {
        let revoked = {
            let grants = self.grants.lock().expect("grants lock");
            grants.revoked.contains(&grant.origin_jti) || grants.revoked.contains(&grant.jti)
        };
        if revoked {
            return Admission::Refused;
        }
        self.retirements.lock().expect("retirements lock").admit(
            &grant.jti,
            &self.rotation,
            now_millis(),
        )
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

/// The revocations of earlier runs: one token id a line; none when the file is missing.
fn load_revoked(dir: &Path) -> anyhow::Result<HashSet<String>> {
    const CONSEQUENCE: &str = "brings revoked refresh tokens back";
    let path = revoked_path(dir);
    let text = files::read_if_present(&path, CONSEQUENCE)?.unwrap_or_default();
    let mut revoked = HashSet::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
    {
        if !is_uuid(line) {
            return Err(files::damaged(
                &path,
                &format!("line {} is not a token id", index + 1),
                CONSEQUENCE,
            ));
        }
        revoked.insert(line.to_owned());
    }
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_load_from_their_file_and_none_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let id = "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2c";

        let before = load_revoked(dir.path()).unwrap();
        std::fs::write(revoked_path(dir.path()), format!("{id}\n\n")).unwrap();
        let after = load_revoked(dir.path()).unwrap();

        assert!(before.is_empty());
        assert_eq!(after, HashSet::from([id.to_owned()]));
    }

    #[test]
    fn a_damaged_revocations_file_stops_start_up_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = revoked_path(dir.path());
        std::fs::write(
            &path,
            "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2c\n\u{0}garbage\n",
        )
        .unwrap();

        let error = load_revoked(dir.path()).unwrap_err().to_string();

        assert_eq!(
            error,
            format!(
                "{}: line 2 is not a token id; fix or delete it (deleting brings revoked refresh tokens back)",
                path.display()
            )
        );
    }
}
