//! Cognito-shaped tokens: ID and access JWTs with Cognito's claims (see docs/cognito-protocol.md),
//! and opaque, JWE-shaped refresh tokens that carry their own grant, sealed with AES-256-GCM.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use super::forgery::Forgery;
use super::keys::KeySet;
use super::users::DemoUser;
use crate::secrets::random_token;

/// The first segment of every Cognito refresh token: `{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}`.
const REFRESH_HEADER: &str = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ";
/// Refresh tokens live 30 days, Cognito's default.
pub const REFRESH_TOKEN_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshGrant {
    pub jti: String,
    pub origin_jti: String,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub exp: i64,
}

/// Everything needed to mint one set of tokens.
pub struct Mint<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a DemoUser,
    /// The user's groups now (they can change at run time), for `cognito:groups`.
    pub groups: &'a [String],
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub origin_jti: &'a str,
    pub now: i64,
    pub ttl_seconds: i64,
    /// A test asked for a bad ID token.
    pub forgery: Option<Forgery>,
}

/// An access token and, when `openid` was granted, an ID token.
pub fn mint(keys: &KeySet, m: &Mint<'_>) -> (String, Option<String>) {
    let groups = (!m.groups.is_empty()).then_some(m.groups);
    let event_id = uuid();
    let access = serde_json::json!({
        "sub": m.user.sub,
        "cognito:groups": groups,
        "iss": m.issuer,
        "version": 2,
        "client_id": m.client_id,
        "origin_jti": m.origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": m.scope,
        "auth_time": m.auth_time,
        "exp": m.now + m.ttl_seconds,
        "iat": m.now,
        "jti": uuid(),
        "username": m.user.username,
    });
    let access_token = keys.access_key().sign(&without_nulls(access));
    if !m.scope.split(' ').any(|scope| scope == "openid") {
        return (access_token, None);
    }
    let id = serde_json::json!({
        "at_hash": at_hash(&access_token),
        "sub": m.user.sub,
        "cognito:groups": groups,
        "email_verified": true,
        "iss": m.issuer,
        "cognito:username": m.user.username,
        "nonce": m.nonce,
        "origin_jti": m.origin_jti,
        "aud": m.client_id,
        "event_id": event_id,
        "token_use": "id",
        "auth_time": m.auth_time,
        "name": m.user.name(),
        "given_name": m.user.given_name,
        "family_name": m.user.family_name,
        "exp": m.now + m.ttl_seconds,
        "iat": m.now,
        "jti": uuid(),
        "email": m.user.email,
    });
    let mut id = without_nulls(id);
    let id_token = match m.forgery {
        None => keys.id_key().sign(&id),
        Some(Forgery::AccessTokenAsIdToken) => access_token.clone(),
        Some(forgery) => {
            forgery.adjust_claims(&mut id, m.now);
            forgery.sign(keys, &id)
        }
    };
    (access_token, Some(id_token))
}

/// Seals a grant into an opaque refresh token.
pub fn seal_refresh_token(keys: &KeySet, grant: &RefreshGrant) -> String {
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &keys.refresh_key).expect("a 32-byte key"));
    let nonce_text = random_token(NONCE_LEN);
    let nonce_bytes: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
        .decode(&nonce_text)
        .expect("base64url")
        .try_into()
        .expect("12 bytes");
    let mut buffer = serde_json::to_vec(grant).expect("a grant serialises");
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(REFRESH_HEADER),
            &mut buffer,
        )
        .expect("sealing fits in memory");
    // Five segments like Cognito's JWE; the second (an encrypted key there) is random filler here.
    format!(
        "{REFRESH_HEADER}.{}.{nonce_text}.{}.{}",
        random_token(256),
        URL_SAFE_NO_PAD.encode(&buffer),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// The grant inside a refresh token this IdP issued; `None` for anything else.
pub fn open_refresh_token(keys: &KeySet, token: &str) -> Option<RefreshGrant> {
    let [header, _, nonce, ciphertext, tag] =
        token.split('.').collect::<Vec<_>>().try_into().ok()?;
    if header != REFRESH_HEADER {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&URL_SAFE_NO_PAD.decode(nonce).ok()?).ok()?;
    let mut buffer = [
        URL_SAFE_NO_PAD.decode(ciphertext).ok()?,
        URL_SAFE_NO_PAD.decode(tag).ok()?,
    ]
    .concat();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &keys.refresh_key).ok()?);
    let plaintext = key
        .open_in_place(nonce, Aad::from(REFRESH_HEADER), &mut buffer)
        .ok()?;
    serde_json::from_slice(plaintext).ok()
}

/// A random UUID (version 4) in its usual text form.
pub fn uuid() -> String {
    let bytes = URL_SAFE_NO_PAD.decode(random_token(16)).expect("base64url");
    let mut b: [u8; 16] = bytes.try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// OIDC `at_hash`: the left half of SHA-256 of the access token, base64url.
fn at_hash(access_token: &str) -> String {
    let hash = digest(&SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16])
}

/// Cognito leaves absent claims out rather than writing `null` (e.g. `cognito:groups`).
fn without_nulls(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid();

        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_eq!(id.matches('-').count(), 4);
    }
}
