//! Deliberately bad ID tokens, for tests that the app refuses them. Only the development IdP can
//! issue these, and only when told to through its control surface.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::keys::{KeySet, SigningKey};
use super::users::DEMO_USERS;

/// What is wrong with the next ID token the token endpoint issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    /// `"alg":"none"` and no signature.
    AlgNone,
    /// HS256, keyed with the public RSA key (the classic algorithm-confusion attack).
    Hs256WithPublicKey,
    /// Signed by the real key, but with a `kid` the JWKS does not have.
    UnknownKid,
    /// Signed by a key the IdP never published.
    UnpublishedKey,
    WrongIssuer,
    WrongAudience,
    /// The access token, handed out as the ID token (`token_use` is `access`).
    AccessTokenAsIdToken,
    /// Expired beyond the clock leeway.
    Expired,
    /// Issued in the future beyond the clock leeway.
    IssuedInFuture,
    NoNonce,
    WrongNonce,
    /// Correctly signed, but naming another demo user's `sub` than the one signed in.
    OtherSubject,
}

impl Forgery {
    /// Changes the claims this forgery is about; a forgery of the signature leaves them as they are.
    pub fn adjust_claims(self, claims: &mut serde_json::Value, now: i64) {
        match self {
            Self::WrongIssuer => {
                claims["iss"] = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Evil".into()
            }
            Self::WrongAudience => claims["aud"] = "anotherappclient000000000".into(),
            Self::Expired => {
                claims["iat"] = (now - 3600 - 120).into();
                claims["exp"] = (now - 120).into();
            }
            Self::IssuedInFuture => {
                claims["iat"] = (now + 300).into();
                claims["exp"] = (now + 3900).into();
            }
            Self::NoNonce => {
                claims.as_object_mut().map(|object| object.remove("nonce"));
            }
            Self::WrongNonce => claims["nonce"] = "not-the-nonce-of-this-sign-in".into(),
            Self::OtherSubject => {
                let own = claims["sub"].as_str().unwrap_or_default().to_owned();
                if let Some(other) = DEMO_USERS.iter().find(|user| user.sub != own) {
                    claims["sub"] = other.sub.into();
                }
            }
            _ => {}
        }
    }

    /// Signs `claims` the way this forgery is about.
    pub fn sign(self, keys: &KeySet, claims: &serde_json::Value) -> String {
        let real = keys.id_key();
        match self {
            Self::AlgNone => unsigned(
                &serde_json::json!({ "kid": real.kid, "alg": "none" }),
                claims,
                None,
            ),
            Self::Hs256WithPublicKey => {
                let secret = real.jwk()["n"].as_str().unwrap_or_default().to_owned();
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
                unsigned(
                    &serde_json::json!({ "kid": real.kid, "alg": "HS256" }),
                    claims,
                    Some(&key),
                )
            }
            Self::UnknownKid => {
                let token = real.sign(claims);
                let (_, rest) = token.split_once('.').unwrap_or_default();
                let header = serde_json::json!({ "kid": "bm90LWEta2lkLXRoaXMtaWRwLXB1Ymxpc2hlZC0wMDA=", "alg": "RS256" });
                format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
            }
            Self::UnpublishedKey => SigningKey::generate().sign(claims),
            _ => real.sign(claims),
        }
    }
}

/// `header.payload.signature` with an HMAC signature, or none.
fn unsigned(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    key: Option<&hmac::Key>,
) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key
        .map(|key| URL_SAFE_NO_PAD.encode(hmac::sign(key, message.as_bytes())))
        .unwrap_or_default();
    format!("{message}.{signature}")
}
