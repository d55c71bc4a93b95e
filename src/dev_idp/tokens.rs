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
use crate::secrets::{random_bytes, random_token};

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
    let nonce_bytes: [u8; NONCE_LEN] = random_bytes(NONCE_LEN)
        .try_into()
        .expect("NONCE_LEN random bytes");
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
        "{REFRESH_HEADER}.{}.{}.{}.{}",
        random_token(256),
        URL_SAFE_NO_PAD.encode(nonce_bytes),
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
    let mut b: [u8; 16] = random_bytes(16).try_into().expect("16 random bytes");
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

/// Whether `text` has the shape of [`uuid`]'s output (the ids the IdP keeps in its files).
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
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
        assert!(is_uuid(&id), "{id}");
    }

    #[test]
    fn only_the_uuid_shape_counts_as_a_token_id() {
        let cases = [
            "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2c",
            "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2",
            "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2g",
            "0b7c6a3e2f1d-4e5a-9b8c-7d6e5f4a3b2c-",
            "",
        ];

        let verdicts = cases.map(is_uuid);

        assert_eq!(verdicts, [true, false, false, false, false], "{cases:?}");
    }

    #[test]
    fn a_sealed_refresh_token_opens_to_its_grant_and_not_with_another_key() {
        let keys = KeySet {
            id_keys: vec![],
            access_keys: vec![],
            refresh_key: [7; 32],
        };
        let other = KeySet {
            refresh_key: [8; 32],
            ..keys.clone()
        };
        let grant = RefreshGrant {
            jti: uuid(),
            origin_jti: uuid(),
            sub: "sub".into(),
            client_id: "client".into(),
            scope: "openid".into(),
            auth_time: 1,
            exp: 2,
        };

        let token = seal_refresh_token(&keys, &grant);

        assert_eq!(open_refresh_token(&keys, &token), Some(grant));
        assert_eq!(open_refresh_token(&other, &token), None);
        assert_eq!(token.split('.').count(), 5);
    }
}
