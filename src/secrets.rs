//! Secret values and the cryptography applied to them: redacted newtypes, random tokens, hashing
//! of session ids, and the AEAD that encrypts tokens at rest with a key derived from `APP_SECRET`.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// The smallest `APP_SECRET`, in bytes after base64 decoding.
pub const MIN_SECRET_BYTES: usize = 64;

/// A value that must never reach a log line or an error message: `Debug` is redacted and there is
/// no `Display`. Read it on purpose with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Secrets arrive in forms and queries too (an authorization code, a CSRF token).
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

/// `bytes` random bytes from the operating system.
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .expect("the operating system provides randomness");
    buffer
}

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// SHA-256 of `value`, base64url. Session ids and `state` values are stored only as this hash, so
/// a copy of the database cannot be replayed as cookies.
pub fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, value.as_bytes()))
}

/// Compares two strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Reads the development `APP_SECRET` from the data folder, creating it on first start. Only a
/// missing file is created: a file that cannot be read or holds no secret stops start-up, since
/// replacing it would silently sign everyone out.
pub fn load_or_create_dev_secret(data_dir: &Path) -> anyhow::Result<Secret<Vec<u8>>> {
    let path = data_dir.join("app-secret");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let bytes = random_bytes(MIN_SECRET_BYTES);
            write_private_file(&path, &STANDARD.encode(&bytes))?;
            return Ok(Secret::new(bytes));
        }
        Err(error) => {
            return Err(anyhow::anyhow!(
                "{}: cannot be read ({error}); fix or delete it (deleting signs everyone out)",
                path.display()
            ));
        }
    };
    let bytes = STANDARD.decode(text.trim()).map_err(|_| {
        anyhow::anyhow!(
            "{}: is not base64; fix or delete it (deleting signs everyone out)",
            path.display()
        )
    })?;
    anyhow::ensure!(
        bytes.len() >= MIN_SECRET_BYTES,
        "{}: holds fewer than {MIN_SECRET_BYTES} bytes; fix or delete it (deleting signs everyone out)",
        path.display()
    );
    Ok(Secret::new(bytes))
}

/// Writes a file only its owner can read (on Unix), for keys kept in the data folder.
pub fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Encrypts tokens for storage: ChaCha20-Poly1305 with a random nonce, keyed by HKDF-SHA256 from
/// `APP_SECRET`. The associated data binds a ciphertext to its row and column, so a ciphertext
/// copied elsewhere in the database does not decrypt.
pub struct TokenCipher {
    key: LessSafeKey,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

/// The ciphertext did not decrypt: wrong `APP_SECRET`, or tampered data.
#[derive(Debug, thiserror::Error)]
#[error("a stored token did not decrypt (was APP_SECRET changed?)")]
pub struct DecryptError;

impl TokenCipher {
    pub fn new(app_secret: &Secret<Vec<u8>>) -> Self {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"cognito-web").extract(app_secret.expose());
        let mut key = [0u8; 32];
        prk.expand(&[b"token encryption v1"], Len(key.len()))
            .and_then(|okm| okm.fill(&mut key))
            .expect("HKDF yields 32 bytes");
        let key =
            UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte ChaCha20-Poly1305 key");
        Self {
            key: LessSafeKey::new(key),
        }
    }

    /// `nonce || ciphertext || tag`.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the operating system provides randomness");
        let mut buffer = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .expect("sealing fits in memory");
        [nonce.as_slice(), &buffer].concat()
    }

    pub fn decrypt(&self, sealed: &[u8], context: &str) -> Result<Secret<String>, DecryptError> {
        if sealed.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| DecryptError)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| DecryptError)?;
        String::from_utf8(plaintext.to_vec())
            .map(Secret::new)
            .map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> TokenCipher {
        TokenCipher::new(&Secret::new(vec![byte; 64]))
    }

    #[test]
    fn a_token_round_trips_and_the_ciphertext_does_not_contain_it() {
        let sealed = cipher(1).encrypt("refresh-token-value", "sessions.refresh_token:abc");

        assert!(!sealed.windows(7).any(|w| w == b"refresh"));
        let opened = cipher(1)
            .decrypt(&sealed, "sessions.refresh_token:abc")
            .unwrap();
        assert_eq!(opened.expose(), "refresh-token-value");
    }

    #[test]
    fn another_key_another_row_or_a_flipped_bit_does_not_decrypt() {
        let sealed = cipher(1).encrypt("token", "row-1");
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN] ^= 1;

        assert!(cipher(2).decrypt(&sealed, "row-1").is_err());
        assert!(cipher(1).decrypt(&sealed, "row-2").is_err());
        assert!(cipher(1).decrypt(&flipped, "row-1").is_err());
        assert!(cipher(1).decrypt(&sealed[..4], "row-1").is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret([redacted])"
        );
    }

    #[test]
    fn random_tokens_are_distinct_and_url_safe() {
        let (a, b) = (random_token(32), random_token(32));

        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
