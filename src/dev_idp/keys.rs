//! The development IdP's keys: two RS256 key pairs (ID tokens, access tokens) published as JWKS
//! the way Cognito does, and a symmetric key sealing its refresh tokens. Kept in the data folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::digest::{SHA256, digest};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

use super::files;
use crate::secrets::{random_bytes, write_private_file};

/// One RSA key pair, as stored and as published.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    der: Vec<u8>,
    n: String,
    e: String,
}

impl SigningKey {
    /// A new 2048-bit key. Takes a noticeable fraction of a second.
    pub fn generate() -> Self {
        let key = <rsa::PrivateKey as rsa::Generate>::generate();
        let der = key
            .to_pkcs1_der()
            .expect("a generated key encodes")
            .as_bytes()
            .to_vec();
        Self::from_der(der).expect("a generated key decodes")
    }

    fn from_der(der: Vec<u8>) -> anyhow::Result<Self> {
        let key = rsa::PrivateKey::from_pkcs1_der(&der).context("decoding an RSA key")?;
        let n = URL_SAFE_NO_PAD.encode(key.n_bytes());
        let e = URL_SAFE_NO_PAD.encode(key.e_bytes());
        // Cognito's kids are 44-character standard base64 strings; a hash of the modulus is one.
        let kid = STANDARD.encode(digest(&SHA256, n.as_bytes()));
        Ok(Self { kid, der, n, e })
    }

    /// Signs `claims` with header `{"kid","alg":"RS256"}` and nothing else, as Cognito does.
    pub fn sign(&self, claims: &impl Serialize) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = None;
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&self.der))
            .expect("RS256 signing with a valid key")
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_components(&self.n, &self.e).expect("a valid public key")
    }

    /// The key's JWKS entry.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({ "alg": "RS256", "e": self.e, "kid": self.kid, "kty": "RSA", "n": self.n, "use": "sig" })
    }
}

/// All the IdP's keys. The first ID and access keys sign; older ones stay published after a
/// rotation, as Cognito keeps old keys in its JWKS.
#[derive(Clone)]
pub struct KeySet {
    pub id_keys: Vec<SigningKey>,
    pub access_keys: Vec<SigningKey>,
    /// Seals refresh tokens (AES-256-GCM), so they survive a restart without a database.
    pub refresh_key: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    id_keys: Vec<String>,
    access_keys: Vec<String>,
    refresh_key: String,
}

impl KeySet {
    pub fn generate() -> Self {
        Self {
            id_keys: vec![SigningKey::generate()],
            access_keys: vec![SigningKey::generate()],
            refresh_key: random_bytes(32).try_into().expect("32 random bytes"),
        }
    }

    /// Reads the keys from `dir`, generating and storing them on first start. Only a missing file
    /// is replaced: new keys would make every token issued so far invalid, so a file that cannot
    /// be read or parsed stops start-up with one line naming it.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        const CONSEQUENCE: &str = "makes every token issued so far invalid";
        let path = Self::path(dir);
        match files::read_if_present(&path, CONSEQUENCE)? {
            Some(text) => Self::parse(&text).map_err(|error| {
                files::damaged(
                    &path,
                    &format!("does not hold the development IdP's keys ({error:#})"),
                    CONSEQUENCE,
                )
            }),
            None => {
                let keys = Self::generate();
                keys.save(dir)?;
                Ok(keys)
            }
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join("dev-idp-keys.json")
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let encode =
            |keys: &[SigningKey]| keys.iter().map(|key| STANDARD.encode(&key.der)).collect();
        let stored = StoredKeys {
            id_keys: encode(&self.id_keys),
            access_keys: encode(&self.access_keys),
            refresh_key: STANDARD.encode(self.refresh_key),
        };
        write_private_file(&Self::path(dir), &serde_json::to_string_pretty(&stored)?)
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let stored: StoredKeys = serde_json::from_str(text).context("not their JSON")?;
        let decode = |keys: &[String]| -> anyhow::Result<Vec<SigningKey>> {
            keys.iter()
                .map(|der| {
                    SigningKey::from_der(STANDARD.decode(der).context("a key is not base64")?)
                })
                .collect()
        };
        let refresh_key = STANDARD
            .decode(&stored.refresh_key)
            .context("the refresh key is not base64")?;
        let id_keys = decode(&stored.id_keys)?;
        let access_keys = decode(&stored.access_keys)?;
        anyhow::ensure!(
            !id_keys.is_empty() && !access_keys.is_empty(),
            "no signing keys"
        );
        Ok(Self {
            id_keys,
            access_keys,
            refresh_key: refresh_key
                .try_into()
                .map_err(|_| anyhow::anyhow!("the refresh key is not 32 bytes"))?,
        })
    }

    pub fn id_key(&self) -> &SigningKey {
        &self.id_keys[0]
    }

    pub fn access_key(&self) -> &SigningKey {
        &self.access_keys[0]
    }

    /// New signing keys in front; the old ones stay published.
    pub fn rotate(&mut self) {
        self.id_keys.insert(0, SigningKey::generate());
        self.access_keys.insert(0, SigningKey::generate());
    }

    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .id_keys
            .iter()
            .chain(&self.access_keys)
            .map(SigningKey::jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_file_that_does_not_parse_stops_start_up_naming_it_and_stays_as_it_was() {
        let cases = [
            ("not JSON", "{ truncated"),
            (
                "no signing keys",
                r#"{"id_keys":[],"access_keys":[],"refresh_key":"AAAA"}"#,
            ),
            (
                "a key that is not base64",
                r#"{"id_keys":["%%"],"access_keys":["%%"],"refresh_key":""}"#,
            ),
        ];

        for (case, contents) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = KeySet::path(dir.path());
            std::fs::write(&path, contents).unwrap();

            let error = KeySet::load_or_create(dir.path()).err();

            let line = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                line.starts_with(&format!("{}: does not hold", path.display())),
                "{case}: {line}"
            );
            assert!(!line.contains('\n'), "{case}: one line: {line}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), contents, "{case}");
        }
    }
}
