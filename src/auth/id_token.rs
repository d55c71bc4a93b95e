//! ID token verification: RS256 signature by the pool's JWKS (cached, refetched on an unknown
//! `kid`), then `iss`, `aud`, `token_use`, `exp`, `iat` and `nonce`, as Cognito documents them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

/// Tolerated clock difference between this server and the IdP, for `exp` and `iat`.
pub const CLOCK_LEEWAY_SECONDS: u64 = 60;
/// An unknown `kid` refetches the JWKS at most this often, so forged tokens cannot make the
/// app hammer the IdP.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The claims of a verified ID token that the app uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenClaims {
    pub sub: String,
    #[serde(rename = "cognito:username")]
    pub username: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    /// When the user authenticated at the IdP (Unix seconds). Cognito sends it in every ID token
    /// and keeps it across refreshes; with `prompt=login` it is the moment of that sign-in.
    pub auth_time: Option<i64>,
    token_use: String,
    /// Cognito's `aud` is one string: the app client id. Checked here rather than by
    /// `jsonwebtoken`, so that an access token (which has none) is named for what it is.
    aud: Option<String>,
    nonce: Option<String>,
    iat: i64,
    pub exp: i64,
}

/// Why an ID token was refused. Each reason is safe to show: none carries token content.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is not a well-formed RS256 JWT with a key id")]
    Malformed,
    #[error("the ID token was signed by a key the identity provider does not publish")]
    UnknownKey,
    #[error("the ID token failed verification: {0}")]
    Invalid(&'static str),
    #[error("the identity provider's signing keys could not be fetched")]
    JwksUnavailable(#[source] anyhow::Error),
}

/// Verifies ID tokens of one app client of one user pool.
pub struct IdTokenVerifier {
    http: reqwest::Client,
    jwks_url: String,
    issuer: String,
    client_id: String,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// When an unknown `kid` last caused a fetch; the lock also makes concurrent fetches wait
    /// for one. The first fetch (empty cache) does not count.
    last_refetch: Mutex<Option<Instant>>,
    /// Whether the JWKS has been fetched once: until then no sign-in can be verified.
    ready: AtomicBool,
}

impl IdTokenVerifier {
    pub fn new(http: reqwest::Client, issuer: &str, client_id: &str) -> Self {
        Self {
            http,
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            keys: RwLock::new(HashMap::new()),
            last_refetch: Mutex::new(None),
            ready: AtomicBool::new(false),
        }
    }

    /// Whether the JWKS has been fetched at least once (for `/readyz`; a flag, no I/O).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Fetches the JWKS unless it was fetched already, so that the first sign-in does not wait
    /// for it and readiness can be told. Called once at start-up, again until it succeeds.
    pub async fn prime(&self) -> anyhow::Result<()> {
        let _one_fetch_at_a_time = self.last_refetch.lock().await;
        if !self.keys.read().await.is_empty() {
            return Ok(());
        }
        let fetched = self.fetch_jwks().await?;
        *self.keys.write().await = fetched;
        Ok(())
    }

    /// Verifies `token`; `nonce` is the value sent at sign-in (`None` for refreshed ID tokens,
    /// which Cognito does not promise to carry it in).
    pub async fn verify(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(IdTokenError::Invalid("the algorithm is not RS256"));
        }
        let kid = header.kid.ok_or(IdTokenError::Malformed)?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        // `iat` is required by `IdTokenClaims` itself and checked in `check_claims`.
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = CLOCK_LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &validation)
            .map_err(|error| IdTokenError::Invalid(describe(error.kind())))?
            .claims;

        check_claims(&claims, &self.client_id, nonce, crate::clock::now())?;
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, IdTokenError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(key.clone());
        }
        let mut last_refetch = self.last_refetch.lock().await;
        // Another request may have fetched while this one waited for the lock.
        let cache_was_empty = {
            let keys = self.keys.read().await;
            if let Some(key) = keys.get(kid) {
                return Ok(key.clone());
            }
            keys.is_empty()
        };
        if !cache_was_empty && last_refetch.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
            return Err(IdTokenError::UnknownKey);
        }
        let fetched = self
            .fetch_jwks()
            .await
            .map_err(IdTokenError::JwksUnavailable)?;
        // Counted only once the IdP answered: a failed fetch must not block the next for 30 s.
        if !cache_was_empty {
            *last_refetch = Some(Instant::now());
        }
        let key = fetched.get(kid).cloned();
        *self.keys.write().await = fetched;
        key.ok_or(IdTokenError::UnknownKey)
    }

    async fn fetch_jwks(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let keys = self.request_jwks().await?;
        self.ready.store(true, Ordering::Relaxed);
        Ok(keys)
    }

    async fn request_jwks(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let _timer = crate::metrics::Timer::idp_call("jwks");
        let response = self
            .http
            .get(&self.jwks_url)
            .send()
            .await?
            .error_for_status()?;
        let set: JwkSet = response.json().await?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect())
    }
}

impl IdTokenClaims {
    /// When the user authenticated: `auth_time`, or, from an IdP that leaves it out, when the
    /// token was issued. Meant for the ID token of a sign-in, not of a refresh (whose `iat` is
    /// the refresh's).
    pub fn authenticated_at(&self) -> i64 {
        self.auth_time.unwrap_or(self.iat)
    }
}

fn check_claims(
    claims: &IdTokenClaims,
    client_id: &str,
    nonce: Option<&str>,
    now: i64,
) -> Result<(), IdTokenError> {
    // Access tokens are signed by the same pool: only `token_use` tells them apart.
    if claims.token_use != "id" {
        return Err(IdTokenError::Invalid("it is not an ID token (token_use)"));
    }
    if claims.aud.as_deref() != Some(client_id) {
        return Err(IdTokenError::Invalid(
            "it was issued to another app client (aud)",
        ));
    }
    if claims.iat > now + CLOCK_LEEWAY_SECONDS as i64 {
        return Err(IdTokenError::Invalid("it was issued in the future (iat)"));
    }
    if let Some(expected) = nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|got| crate::secrets::constant_time_eq(got, expected))
    {
        return Err(IdTokenError::Invalid(
            "the nonce does not match this sign-in",
        ));
    }
    Ok(())
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature => "the signature does not verify",
        ErrorKind::ExpiredSignature => "it has expired (exp)",
        ErrorKind::InvalidIssuer => "it was issued by another issuer (iss)",
        ErrorKind::InvalidAudience => "it was issued to another app client (aud)",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidAlgorithm => "the algorithm is not RS256",
        _ => "it could not be decoded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(token_use: &str, iat: i64, nonce: Option<&str>) -> IdTokenClaims {
        IdTokenClaims {
            sub: "sub".into(),
            username: None,
            email: None,
            groups: vec![],
            auth_time: None,
            token_use: token_use.into(),
            aud: Some("client".into()),
            nonce: nonce.map(str::to_owned),
            iat,
            exp: iat + 3600,
        }
    }

    #[test]
    fn claim_checks_refuse_access_tokens_future_tokens_and_wrong_nonces() {
        let now = 10_000;

        assert!(check_claims(&claims("id", now, Some("n")), "client", Some("n"), now).is_ok());
        assert!(check_claims(&claims("id", now + 60, None), "client", None, now).is_ok());
        assert!(check_claims(&claims("access", now, Some("n")), "client", Some("n"), now).is_err());
        assert!(
            check_claims(&claims("id", now + 61, Some("n")), "client", Some("n"), now).is_err()
        );
        assert!(check_claims(&claims("id", now, Some("other")), "client", Some("n"), now).is_err());
        assert!(check_claims(&claims("id", now, None), "client", Some("n"), now).is_err());
        assert!(check_claims(&claims("id", now, Some("n")), "another", Some("n"), now).is_err());
    }

    #[test]
    fn the_sign_in_time_is_auth_time_or_else_the_time_of_issue() {
        let mut with = claims("id", 10_000, None);
        with.auth_time = Some(9_000);
        let without = claims("id", 10_000, None);

        assert_eq!(with.authenticated_at(), 9_000);
        assert_eq!(without.authenticated_at(), 10_000);
    }
}
