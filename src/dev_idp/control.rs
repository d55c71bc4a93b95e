//! The control surface Cognito has not: [`DevIdpControl`] for tests in-process, and the same
//! switches over HTTP under `/_dev/` (call counts, token failures, global sign-out, key and
//! refresh-token rotation, forged ID tokens, groups, discovery faults, identity providers).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, guard, web};
use serde::{Deserialize, Serialize};

use super::discovery::DiscoveryFault;
use super::forgery::Forgery;
use super::http::State;
use super::rotation::MAX_GRACE;
use super::state::IdpState;
use super::users;

/// The header every `/_dev/` request must carry. A plain web page cannot send it cross-origin
/// without a CORS preflight, which the IdP never grants, so no page a developer visits can
/// drive the control surface.
pub const CONTROL_HEADER: (&str, &str) = ("x-dev-idp-control", "yes");

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

/// Drives the development IdP from tests and scripts (also over HTTP under `/_dev/`).
#[derive(Clone)]
pub struct DevIdpControl(pub(super) Arc<IdpState>);

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

    /// Cognito's refresh-token rotation: every refresh returns a new refresh token, which expires
    /// when the original would have, and the submitted one stops working once the grace period
    /// ([`Self::set_rotation_grace`]) after its first use has passed.
    pub fn set_refresh_rotation(&self, on: bool) {
        self.0.rotation.set_on(on);
    }

    /// How long a rotated-out refresh token still works after its first use, so a client whose
    /// answer got lost can retry (Cognito's `RetryGracePeriodSeconds`): at most 60 seconds, a
    /// longer one is cut to 60; zero retires it at once.
    pub fn set_rotation_grace(&self, grace: Duration) {
        self.0.rotation.set_grace(grace);
    }

    /// Puts the demo user `username` in exactly `groups` from now on (an empty list: in none), as
    /// an administrator changing groups in the pool would. Tokens already issued keep their
    /// `cognito:groups`; the next refresh carries the new ones. `false` when there is no such user.
    pub fn set_groups<S: AsRef<str>>(&self, username: &str, groups: &[S]) -> bool {
        let Some(user) = users::find(username) else {
            return false;
        };
        let groups = groups.iter().map(|g| g.as_ref().to_owned()).collect();
        self.0
            .groups
            .lock()
            .expect("groups lock")
            .insert(user.sub.to_owned(), groups);
        true
    }

    /// Makes the issuer's discovery documents answer wrongly, until `DiscoveryFault::None`.
    pub fn set_discovery_fault(&self, fault: DiscoveryFault) {
        *self.0.discovery_fault.lock().expect("discovery fault lock") = fault;
    }

    /// The pool's external identity providers, by the names `identity_provider=` accepts
    /// (`COGNITO` always works and need not be listed). Replaces the list the IdP started with.
    pub fn set_identity_providers<S: AsRef<str>>(&self, names: &[S]) {
        *self
            .0
            .identity_providers
            .write()
            .expect("identity providers lock") =
            names.iter().map(|name| name.as_ref().to_owned()).collect();
    }
}

/// The `/_dev/` scope, answering only requests that carry [`CONTROL_HEADER`].
pub fn scope() -> actix_web::Scope {
    web::scope("/_dev")
        .guard(guard::Header(CONTROL_HEADER.0, CONTROL_HEADER.1))
        .route("/counts", web::get().to(counts))
        .route("/token-failure", web::post().to(token_failure))
        .route("/token-failure", web::delete().to(clear_token_failure))
        .route("/revoke-user", web::post().to(revoke_user))
        .route("/rotate-keys", web::post().to(rotate_keys))
        .route("/refresh-rotation", web::post().to(refresh_rotation))
        .route("/forge-next-id-token", web::post().to(forge))
        .route("/set-groups", web::post().to(set_groups))
        .route("/discovery-fault", web::post().to(discovery_fault))
        .route("/identity-providers", web::post().to(identity_providers))
}

fn control(state: State) -> DevIdpControl {
    DevIdpControl(state.into_inner())
}

async fn counts(state: State) -> HttpResponse {
    HttpResponse::Ok().json(control(state).counts())
}

async fn token_failure(state: State, failure: web::Json<TokenFailure>) -> HttpResponse {
    control(state).fail_token_endpoint(failure.into_inner());
    HttpResponse::NoContent().finish()
}

async fn clear_token_failure(state: State) -> HttpResponse {
    control(state).clear_token_failure();
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct RevokeUser {
    username: String,
}

async fn revoke_user(state: State, body: web::Json<RevokeUser>) -> HttpResponse {
    let revoked = control(state).revoke_user(&body.username);
    HttpResponse::Ok().json(serde_json::json!({ "revoked": revoked }))
}

async fn rotate_keys(state: State) -> HttpResponse {
    // Generating RSA keys takes a while: off the async worker.
    let control = control(state);
    match web::block(move || control.rotate_keys()).await {
        Ok(Ok(())) => HttpResponse::NoContent().finish(),
        Ok(Err(error)) => HttpResponse::InternalServerError().body(error.to_string()),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

#[derive(Deserialize)]
struct Rotation {
    on: bool,
    /// Left out: the grace period stays as it is.
    grace_seconds: Option<u64>,
}

async fn refresh_rotation(state: State, body: web::Json<Rotation>) -> HttpResponse {
    let grace = body.grace_seconds.map(Duration::from_secs);
    if grace.is_some_and(|grace| grace > MAX_GRACE) {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({ "error": "grace_seconds must be from 0 to 60" }));
    }
    let control = control(state);
    if let Some(grace) = grace {
        control.set_rotation_grace(grace);
    }
    control.set_refresh_rotation(body.on);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct Forge {
    forgery: Forgery,
}

async fn forge(state: State, body: web::Json<Forge>) -> HttpResponse {
    control(state).forge_next_id_token(body.forgery);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct SetGroups {
    username: String,
    groups: Vec<String>,
}

async fn set_groups(state: State, body: web::Json<SetGroups>) -> HttpResponse {
    if control(state).set_groups(&body.username, &body.groups) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::NotFound().json(serde_json::json!({ "error": "unknown_user" }))
    }
}

#[derive(Deserialize)]
struct Fault {
    fault: DiscoveryFault,
}

async fn discovery_fault(state: State, body: web::Json<Fault>) -> HttpResponse {
    control(state).set_discovery_fault(body.fault);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct IdentityProviders {
    identity_providers: Vec<String>,
}

async fn identity_providers(state: State, body: web::Json<IdentityProviders>) -> HttpResponse {
    control(state).set_identity_providers(&body.identity_providers);
    HttpResponse::NoContent().finish()
}
