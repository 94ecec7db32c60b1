//! Secret handling: redaction for printing and hashed admin API keys.

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

const REDACTED: &str = "[redacted]";

/// Serialises a list of secrets as `"[redacted]"` markers (count preserved).
pub(super) fn redact_list<S: Serializer>(v: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|_| REDACTED))
}

/// Serialises an optional secret as `"[redacted]"` when set, `"(not set)"` otherwise.
pub(super) fn redact_option<S: Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(if v.is_some() { REDACTED } else { "(not set)" })
}

/// Serialises a URL with any password replaced by `[redacted]`.
pub(super) fn redact_url<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    match reqwest::Url::parse(v) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            s.serialize_str(u.as_str())
        }
        _ => s.serialize_str(v),
    }
}

/// The SHA-256 digest of one admin API key. Only digests are kept in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    /// Hashes a key given in clear.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `candidate` hashes to this digest (constant time).
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.ct_eq(&Self::of(candidate).0).into()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let bytes = hex::decode(hex_digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeyHash([redacted])")
    }
}

/// The set of admin API keys, stored as SHA-256 digests and compared in constant time.
#[derive(Debug, Clone, Default)]
pub struct AdminKeys(Vec<ApiKeyHash>);

impl AdminKeys {
    /// Collects keys given in clear and the keys of an optional key file.
    ///
    /// The file holds one key per line, in clear or as `sha256:<hex>`; blank lines and
    /// lines starting with `#` are ignored.
    pub fn load(clear: &[SecretString], file: Option<&Path>) -> Result<Self, String> {
        let mut keys: Vec<ApiKeyHash> = clear
            .iter()
            .map(|k| ApiKeyHash::of(k.expose_secret()))
            .collect();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "security.admin_api_keys_file: cannot read {}: {e}",
                    path.display()
                )
            })?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let key = match line.strip_prefix("sha256:") {
                    Some(hex_digits) => ApiKeyHash::from_hex(hex_digits).ok_or_else(|| {
                        format!(
                            "security.admin_api_keys_file: line {} of {} is not sha256:<64 hex digits>",
                            n + 1,
                            path.display()
                        )
                    })?,
                    None => ApiKeyHash::of(line),
                };
                keys.push(key);
            }
        }
        Ok(Self(keys))
    }

    /// True when no admin key is configured (admin routes then refuse everyone).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `candidate` is one of the keys. Every stored digest is compared, in
    /// constant time, so timing reveals neither which key matched nor how much.
    pub fn contains(&self, candidate: &str) -> bool {
        let digest = ApiKeyHash::of(candidate);
        self.0
            .iter()
            .fold(0u8, |found, k| found | k.0.ct_eq(&digest.0).unwrap_u8())
            == 1
    }
}
