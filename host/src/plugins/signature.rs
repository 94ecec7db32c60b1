//! Signed plugins. A plugin file `x.wasm` is signed by a detached `x.wasm.sig`: an
//! ed25519 signature (ed25519-dalek) over a domain tag and the SHA-256 of the file's
//! exact bytes, the bytes the host then compiles. `plugins.trusted_keys` lists the
//! public keys whose signatures are accepted. With `plugins.require_signatures` (on by
//! default in `security.environment = "production"`) an unsigned or badly signed file
//! is refused at load and on hot reload; otherwise it loads with a warning. The check
//! runs on the bytes read, before the compiled-code cache is consulted, so the cache
//! cannot stand in for a signature.

pub use crate::contract::parse_public_key;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What is signed, before the file's SHA-256: a tag, so a signature over anything
/// else (another protocol using the same key) is never a plugin signature.
const DOMAIN: &[u8] = b"autbot-plugin-signature-v1\0";
/// The largest signature file read, in bytes.
const MAX_SIGNATURE_BYTES: u64 = 4096;
/// The first line of a signature file.
const HEADER: &str = "autbot plugin signature v1";

/// Signature checking, from `[plugins]`.
#[derive(Clone, Default)]
pub struct SignaturePolicy {
    trusted: Vec<VerifyingKey>,
    required: bool,
}

impl SignaturePolicy {
    /// The policy for `trusted_keys` (hex public keys, optionally `ed25519:`-prefixed).
    pub fn new(trusted_keys: &[String], required: bool) -> Result<Self, String> {
        let trusted = trusted_keys
            .iter()
            .map(|k| parse_public_key(k))
            .collect::<Result<_, _>>()?;
        Ok(Self { trusted, required })
    }

    /// Checks `bytes` (read from `path`) against the signature file beside it: the
    /// signer's key id when it is good; `None` when it is not but the policy lets
    /// the plugin load (with a warning logged); an error when it must be refused.
    pub fn check(&self, plugin: &str, path: &Path, bytes: &[u8]) -> Result<Option<String>, String> {
        match self.verify(path, bytes) {
            Ok(signer) => Ok(Some(signer)),
            Err(problem) if self.required => Err(format!(
                "{problem}; plugins.require_signatures is on (security.environment = \"production\" turns it on), so the plugin is refused"
            )),
            Err(problem) => {
                tracing::warn!(plugin, problem = %problem, "plugin signature not verified; loading it anyway (plugins.require_signatures is off)");
                Ok(None)
            }
        }
    }

    fn verify(&self, path: &Path, bytes: &[u8]) -> Result<String, String> {
        let sig_path = signature_path(path);
        // A signature file is a few hundred bytes; a larger one is not read.
        let size = std::fs::metadata(&sig_path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_SIGNATURE_BYTES {
            return Err(format!(
                "{} is larger than a signature file",
                sig_path.display()
            ));
        }
        let text = match std::fs::read_to_string(&sig_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "{} is not signed (no {})",
                    path.display(),
                    sig_path.display()
                ))
            }
            Err(e) => return Err(format!("cannot read {}: {e}", sig_path.display())),
        };
        let file = SignatureFile::parse(&text)
            .map_err(|e| format!("{} is not a valid signature file: {e}", sig_path.display()))?;
        let Some(key) = self.trusted.iter().find(|k| k.as_bytes() == &file.key) else {
            return Err(format!(
                "{} is signed by {}, which is not in plugins.trusted_keys",
                path.display(),
                key_id(&file.key)
            ));
        };
        key.verify_strict(&message(bytes), &file.signature).map_err(|_| {
            format!(
                "the signature in {} does not match {} (the file changed after it was signed, or the signature was forged)",
                sig_path.display(),
                path.display()
            )
        })?;
        Ok(key_id(&file.key))
    }
}

/// `x.wasm` → `x.wasm.sig`.
pub fn signature_path(wasm: &Path) -> PathBuf {
    let mut name = wasm.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// How a signer is shown: `ed25519:` and the first 16 hex digits of its public key.
pub fn key_id(key: &[u8; 32]) -> String {
    format!("ed25519:{}", &hex::encode(key)[..16])
}

fn message(bytes: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(bytes));
    m
}

/// A secret key file: its first line is 64 hex digits (the key's seed), optionally
/// prefixed `ed25519-secret:`.
pub fn read_secret_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim();
    let line = line.strip_prefix("ed25519-secret:").unwrap_or(line);
    let seed: [u8; 32] = hex::decode(line)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!(
                "{} does not hold an ed25519 secret key (64 hex digits)",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A new key pair: the secret key file's text and the public key's text.
pub fn generate() -> (String, String) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    (
        format!("ed25519-secret:{}\n", hex::encode(key.to_bytes())),
        format!("ed25519:{}", hex::encode(key.verifying_key().as_bytes())),
    )
}

/// Signs `bytes`: the text of their signature file.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> String {
    let signature = key.sign(&message(bytes));
    format!(
        "{HEADER}\nkey: ed25519:{}\nsha256: {}\nsignature: {}\n",
        hex::encode(key.verifying_key().as_bytes()),
        hex::encode(Sha256::digest(bytes)),
        hex::encode(signature.to_bytes()),
    )
}

/// The signer's key id of the signature beside `path`, if any (for `inspect`; not a
/// verification).
pub fn claimed_signer(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(signature_path(path)).ok()?;
    SignatureFile::parse(&text).ok().map(|f| key_id(&f.key))
}

/// A parsed signature file.
struct SignatureFile {
    key: [u8; 32],
    signature: Signature,
}

impl SignatureFile {
    fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(HEADER) {
            return Err(format!("the first line must be `{HEADER}`"));
        }
        let (mut key, mut signature) = (None, None);
        for line in lines {
            match line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("key", v)) => key = Some(parse_public_key(v)?.to_bytes()),
                Some(("signature", v)) => {
                    let bytes: [u8; 64] = hex::decode(v)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or("the signature is not 128 hex digits")?;
                    signature = Some(Signature::from_bytes(&bytes));
                }
                // `sha256:` is for people; the signature covers the digest itself.
                _ => {}
            }
        }
        Ok(Self {
            key: key.ok_or("no `key:` line")?,
            signature: signature.ok_or("no `signature:` line")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_file(dir: &Path, key: &SigningKey, bytes: &[u8]) -> PathBuf {
        let wasm = dir.join("p.wasm");
        std::fs::write(&wasm, bytes).unwrap();
        std::fs::write(signature_path(&wasm), sign(key, bytes)).unwrap();
        wasm
    }

    #[test]
    fn a_signature_covers_the_exact_bytes_and_the_trusted_key() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = generate();
        let secret_path = dir.path().join("k");
        std::fs::write(&secret_path, &secret).unwrap();
        let key = read_secret_key(&secret_path).unwrap();
        let wasm = signed_file(dir.path(), &key, b"component bytes");
        let policy = SignaturePolicy::new(std::slice::from_ref(&public), true).unwrap();
        let signer = policy.check("p", &wasm, b"component bytes").unwrap();
        assert_eq!(signer.as_deref(), Some(&public[..24]));
        // One byte changed: refused.
        let e = policy.check("p", &wasm, b"component bytez").unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        // Another key: refused, naming the signer.
        let (_, other) = generate();
        let e = SignaturePolicy::new(&[other], true)
            .unwrap()
            .check("p", &wasm, b"component bytes")
            .unwrap_err();
        assert!(e.contains("not in plugins.trusted_keys"), "{e}");
        // Unsigned: refused when required, loaded (no signer) when not.
        std::fs::remove_file(signature_path(&wasm)).unwrap();
        assert!(policy
            .check("p", &wasm, b"component bytes")
            .unwrap_err()
            .contains("not signed"));
        let lax = SignaturePolicy::new(&[public], false).unwrap();
        assert_eq!(lax.check("p", &wasm, b"component bytes").unwrap(), None);
    }

    #[test]
    fn a_signature_is_not_reusable_for_other_bytes_or_a_tampered_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = format!("ed25519:{}", hex::encode(key.verifying_key().as_bytes()));
        let wasm = signed_file(dir.path(), &key, b"a");
        let text = std::fs::read_to_string(signature_path(&wasm)).unwrap();
        // A forged signature line.
        let forged = text.replace(
            text.lines().nth(3).unwrap(),
            &format!("signature: {}", "00".repeat(64)),
        );
        std::fs::write(signature_path(&wasm), forged).unwrap();
        let policy = SignaturePolicy::new(&[public], true).unwrap();
        assert!(policy.check("p", &wasm, b"a").is_err());
        std::fs::write(signature_path(&wasm), "garbage").unwrap();
        assert!(policy
            .check("p", &wasm, b"a")
            .unwrap_err()
            .contains("not a valid signature file"));
        assert!(SignaturePolicy::new(&["abc".into()], true).is_err());
    }
}
