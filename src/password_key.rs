//! ghostwire's own RSA key pair for passwords sent by plain-text clients
//! when ghostwire's connection to the server is TLS (see
//! `server::session::bridge`).
//!
//! Over plain text, caching_sha2_password's full authentication and
//! sha256_password send the password RSA-encrypted (OAEP with SHA-1, the
//! password and its NUL XOR-ed with the scramble) with a public key the
//! client asks for or has pinned. The server, reached over TLS, expects the
//! password in clear instead. So ghostwire hands such a client its own
//! public key, decrypts, and sends the password over its TLS connection:
//! what the client would send over TLS itself.
//!
//! The key is generated at start (or read from `[listen] rsa_key`); it never
//! leaves the process but as its public half. `rsa` 0.10: pure Rust,
//! constant-time arithmetic (crypto-bigint), so the Marvin timing attack of
//! earlier versions (RUSTSEC-2023-0071) does not apply.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{Generate, PrivateKey};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("listen.rsa_key: cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("listen.rsa_key: {path} holds no RSA private key (PKCS#8 or PKCS#1 PEM): {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("listen.rsa_key: {path}: a {bits}-bit key is too small (2048 bits at least)")]
    TooSmall { path: PathBuf, bits: usize },
    #[error("cannot encode ghostwire's RSA public key: {0}")]
    Encode(String),
}

/// The smallest key accepted from a file (MySQL's own default size).
const MIN_BITS: usize = 2048;

pub(crate) struct PasswordKey {
    private: PrivateKey,
    /// The public half as the server sends it (SubjectPublicKeyInfo PEM).
    public_pem: Vec<u8>,
}

impl std::fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordKey")
            .field("bytes", &self.private.size())
            .finish_non_exhaustive()
    }
}

impl PasswordKey {
    /// A new key pair (3072 bits; a CPU-bound second or so in a release build).
    pub(crate) fn generate() -> Result<Self, KeyError> {
        Self::from_private(PrivateKey::generate())
    }

    /// The key pair in a PEM file (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA
    /// PRIVATE KEY`, as `openssl genpkey` / MySQL's `private_key.pem`).
    pub(crate) fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: path.into(),
            reason: e.to_string(),
        })?);
        let private = PrivateKey::from_pkcs8_pem(&pem)
            .or_else(|e8| {
                PrivateKey::from_pkcs1_pem(&pem).map_err(|e1| format!("PKCS#8: {e8}; PKCS#1: {e1}"))
            })
            .map_err(|reason| KeyError::Parse {
                path: path.into(),
                reason,
            })?;
        let bits = private.size() * 8;
        if bits < MIN_BITS {
            return Err(KeyError::TooSmall {
                path: path.into(),
                bits,
            });
        }
        Self::from_private(private)
    }

    fn from_private(private: PrivateKey) -> Result<Self, KeyError> {
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?
            .into_bytes();
        Ok(Self {
            private,
            public_pem,
        })
    }

    /// The public key, PEM, as a server answers a public-key request.
    pub(crate) fn public_pem(&self) -> &[u8] {
        &self.public_pem
    }

    /// The length of a ciphertext made with this key (the modulus in bytes).
    pub(crate) fn ciphertext_len(&self) -> usize {
        self.private.size()
    }

    /// The password (with its NUL, as a client on TLS sends it) from what
    /// a plain-text client sent encrypted with this key for `scramble`; `None`
    /// when it was not (another key, or not a ciphertext at all).
    pub(crate) fn decrypt_password(
        &self,
        ciphertext: &[u8],
        scramble: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.ciphertext_len() || scramble.is_empty() {
            return None;
        }
        let mut plain = Zeroizing::new(self.private.oaep_decrypt::<sha1::Sha1>(ciphertext).ok()?);
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= scramble.get(i % scramble.len()).copied().unwrap_or(0);
        }
        // What was encrypted is the password and its terminating NUL.
        (plain.last() == Some(&0)).then_some(plain)
    }
}

/// The key pair in use: `[listen] rsa_key`'s, or one generated once per
/// process (in the background from the start when `[backend.tls]` is on,
/// so no login waits for it).
#[derive(Default)]
pub(crate) struct Keys {
    from_file: arc_swap::ArcSwapOption<PasswordKey>,
    generated: tokio::sync::OnceCell<Arc<PasswordKey>>,
}

impl Keys {
    /// Reads `path` (at start); without one, the generated key is used.
    pub(crate) fn load(&self, path: Option<&Path>) -> Result<(), KeyError> {
        let key = path.map(PasswordKey::load).transpose()?;
        self.set(key);
        Ok(())
    }

    /// The key read from `[listen] rsa_key` (a reload), or none.
    pub(crate) fn set(&self, key: Option<PasswordKey>) {
        self.from_file.store(key.map(Arc::new));
    }

    /// Whether a key from a file is in use (nothing to generate).
    pub(crate) fn has_file_key(&self) -> bool {
        self.from_file.load().is_some()
    }

    /// The key to hand plain-text clients now.
    pub(crate) async fn get(&self) -> Result<Arc<PasswordKey>, KeyError> {
        if let Some(k) = self.from_file.load_full() {
            return Ok(k);
        }
        self.generated
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(PasswordKey::generate)
                    .await
                    .map_err(|e| KeyError::Encode(e.to_string()))?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }
}

/// Two keys made once for the unit tests (generation is the slow part).
#[cfg(test)]
pub(crate) fn test_keys() -> &'static (PasswordKey, PasswordKey) {
    static KEYS: std::sync::OnceLock<(PasswordKey, PasswordKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (
            PasswordKey::generate().unwrap(),
            PasswordKey::generate().unwrap(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;

    /// What a client does with the key it was given (mysql2's, PyMySQL's
    /// and libmysqlclient's `encrypt_password`).
    fn client_encrypt(pem: &[u8], password: &[u8], scramble: &[u8]) -> Vec<u8> {
        let public = rsa::PublicKey::from_public_key_pem(std::str::from_utf8(pem).unwrap())
            .expect("the PEM a client parses");
        let mut plain = password.to_vec();
        plain.push(0);
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= scramble[i % scramble.len()];
        }
        public.oaep_encrypt::<sha1::Sha1>(&plain).unwrap()
    }

    #[test]
    fn a_password_encrypted_with_our_key_comes_back_with_its_nul() {
        let (key, theirs) = test_keys();
        let pem = std::str::from_utf8(key.public_pem()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        let scramble: Vec<u8> = (1..=20).collect();
        let c = client_encrypt(key.public_pem(), b"s3cret", &scramble);
        assert_eq!(c.len(), key.ciphertext_len());
        let p = key.decrypt_password(&c, &scramble).unwrap();
        assert_eq!(&p[..], b"s3cret\0");
        // Another scramble (a replayed ciphertext): not the password.
        let other: Vec<u8> = (21..=40).collect();
        assert_ne!(
            key.decrypt_password(&c, &other).as_deref().map(|v| &v[..]),
            Some(&b"s3cret\0"[..])
        );
        // Another key (a client that pinned the server's), or no ciphertext.
        let c = client_encrypt(theirs.public_pem(), b"s3cret", &scramble);
        assert!(key.decrypt_password(&c, &scramble).is_none());
        assert!(key.decrypt_password(b"s3cret\0", &scramble).is_none());
        assert!(key.decrypt_password(&[], &scramble).is_none());
    }

    #[test]
    fn key_files_are_read_or_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let missing = PasswordKey::load(&dir.path().join("none.pem")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a key").unwrap();
        let junk = PasswordKey::load(&junk).unwrap_err();
        assert!(
            junk.to_string().contains("holds no RSA private key"),
            "{junk}"
        );
    }
}
