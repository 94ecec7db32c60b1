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

/// Serialises a URL as [`redacted_url`] shows it.
pub(super) fn redact_url<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redacted_url(v))
}

/// Serialises a plugin's `config` table with URL credentials and the values of
/// secret-looking keys (see [`is_secret_name`]) masked, at any depth.
pub(super) fn redact_table<S: Serializer>(v: &toml::Table, s: S) -> Result<S::Ok, S::Error> {
    let mut copy = v.clone();
    for (key, value) in copy.iter_mut() {
        redact_value(is_secret_name(key), value);
    }
    serde::Serialize::serialize(&copy, s)
}

fn redact_value(secret: bool, value: &mut toml::Value) {
    match value {
        toml::Value::String(text) if secret => *text = MASK.into(),
        toml::Value::String(text) => *text = redacted_url(text),
        toml::Value::Array(items) => items.iter_mut().for_each(|i| redact_value(secret, i)),
        toml::Value::Table(table) => {
            for (key, v) in table.iter_mut() {
                redact_value(secret || is_secret_name(key), v);
            }
        }
        _ if secret => *value = toml::Value::String(MASK.into()),
        _ => {}
    }
}

/// What replaces a credential inside a URL or a log excerpt.
pub const MASK: &str = "***";

/// Whether a query parameter or key name looks like it carries a secret
/// (`password`, `api_key`, `token`, `secret`, `signature`, ...). Deliberately broad:
/// masking a harmless value costs nothing.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "sig",
        "credential",
        "session",
        "cookie",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `url` fit for printing and logging: the user-info password (or a lone user name,
/// which is often a token) and the values of secret-looking query or fragment
/// parameters are replaced by `***`. Text that is not a URL comes back unchanged,
/// except that anything before an `@` is masked (`user:pass@host`).
pub fn redacted_url(url: &str) -> String {
    let parsed = url::Url::parse(url).ok().filter(|u| !u.cannot_be_a_base());
    let Some(mut u) = parsed else {
        return match url.rsplit_once('@') {
            Some((before, after)) => {
                let scheme = before.find("://").map_or("", |i| &before[..i + 3]);
                format!("{scheme}{MASK}@{after}")
            }
            None => url.to_string(),
        };
    };
    let mut changed = false;
    if u.password().is_some() {
        changed |= u.set_password(Some(MASK)).is_ok();
    } else if !u.username().is_empty() {
        changed |= u.set_username(MASK).is_ok();
    }
    if let Some(query) = u
        .query()
        .map(mask_pairs)
        .filter(|q| Some(q.as_str()) != u.query())
    {
        u.set_query(Some(&query));
        changed = true;
    }
    if let Some(fragment) = u
        .fragment()
        .map(mask_pairs)
        .filter(|f| Some(f.as_str()) != u.fragment())
    {
        u.set_fragment(Some(&fragment));
        changed = true;
    }
    // Unchanged text is returned as written (parsing may add a `/`).
    if changed {
        u.to_string()
    } else {
        url.to_string()
    }
}

/// `a=1&token=x` becomes `a=1&token=***`; other parameters keep their exact bytes.
fn mask_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(&percent_decode(name)) => format!("{name}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(name: &str) -> String {
    url::form_urlencoded::parse(name.as_bytes())
        .next()
        .map_or_else(|| name.to_string(), |(k, _)| k.into_owned())
}

/// A short excerpt of text that came from elsewhere (an upstream error body), fit for
/// a log line: at most `max_chars` characters (then `…`), control characters replaced
/// by spaces, URLs shown as [`redacted_url`] shows them, values of secret-looking keys
/// (JSON members, `key=value`, `key: value`) masked, and bearer tokens and `sk-...`
/// API keys masked. A JSON body is masked member by member.
pub fn redacted_excerpt(text: &str, max_chars: usize) -> String {
    let masked = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) if v.is_object() || v.is_array() => {
            mask_json(false, &mut v);
            v.to_string()
        }
        _ => mask_words(text),
    };
    let mut excerpt: String = masked.chars().take(max_chars).collect();
    if masked.chars().nth(max_chars).is_some() {
        excerpt.push('…');
    }
    excerpt
}

fn mask_json(secret: bool, value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) if secret => *text = MASK.into(),
        Value::String(text) => *text = mask_words(text),
        Value::Array(items) => items.iter_mut().for_each(|i| mask_json(secret, i)),
        Value::Object(members) => {
            for (key, v) in members.iter_mut() {
                mask_json(secret || is_secret_name(key), v);
            }
        }
        Value::Null => {}
        _ if secret => *value = Value::String(MASK.into()),
        _ => {}
    }
}

/// Free text (an error message) with the credentials in it masked, as
/// [`redacted_excerpt`] does, but not shortened.
pub fn redacted_text(text: &str) -> String {
    mask_words(text)
}

/// Free text, word by word.
fn mask_words(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = Vec::new();
    let mut mask_next = false;
    for word in flat.split(' ') {
        if word.is_empty() {
            out.push(String::new());
            continue;
        }
        if mask_next {
            out.push(MASK.to_string());
            // `Authorization: Bearer abc`: the scheme, then the credential.
            mask_next = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic");
            continue;
        }
        // `Bearer abc`, `Basic abc`, `"api_key": "abc"`, `password: abc`.
        let name = word.trim_matches(|c: char| "\"'{,".contains(c));
        mask_next = name.eq_ignore_ascii_case("bearer")
            || name.eq_ignore_ascii_case("basic")
            || name
                .strip_suffix(':')
                .map(|n| n.trim_matches(|c: char| "\"'".contains(c)))
                .is_some_and(is_secret_name);
        out.push(redact_word(word));
    }
    out.join(" ")
}

/// One space-separated word of an excerpt.
fn redact_word(word: &str) -> String {
    let core = word.trim_matches(|c: char| "\"'`(),;[]{}<>".contains(c));
    if core.contains("://") {
        return word.replace(core, &redacted_url(core));
    }
    if core.starts_with("sk-") && core.len() > 8 {
        return word.replace(core, &format!("sk-{MASK}"));
    }
    // `token=abc&x=1` or `"api_key":"abc"` in one word.
    if core.contains('=') && core.contains(|c: char| c.is_ascii_alphabetic()) {
        let masked = mask_pairs(core);
        if masked != core {
            return word.replace(core, &masked);
        }
    }
    if let Some((name, _)) = core.split_once("\":") {
        if is_secret_name(name) {
            return word.replace(core, &format!("{name}\":\"{MASK}"));
        }
    }
    word.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redacted_url("https://user:s3cret@llm.example/v1"),
            "https://user:***@llm.example/v1"
        );
        assert_eq!(
            redacted_url("redis://:p%40ss@10.0.0.1:6379/0"),
            "redis://:***@10.0.0.1:6379/0"
        );
        assert_eq!(
            redacted_url("https://ghp_token123@git.example/x"),
            "https://***@git.example/x"
        );
        assert_eq!(
            redacted_url("https://h.example/v1?api_key=k1&model=m&access_token=t2&Password=p3"),
            "https://h.example/v1?api_key=***&model=m&access_token=***&Password=***"
        );
        assert_eq!(
            redacted_url("https://h.example/cb#id_token=abc&state=1"),
            "https://h.example/cb#id_token=***&state=1"
        );
        // Nothing secret: the text is kept as written.
        assert_eq!(
            redacted_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            redacted_url("https://api.openai.com/v1?model=x"),
            "https://api.openai.com/v1?model=x"
        );
        // Not a URL, but credentials before an `@` all the same.
        assert_eq!(redacted_url("admin:hunter2@db:5432"), "***@db:5432");
        assert_eq!(redacted_url("not a url"), "not a url");
    }

    #[test]
    fn excerpts_are_short_and_masked() {
        let json = r#"{"error":{"message":"Incorrect API key provided: sk-live-ABCDEF123456. See https://admin:pw9@internal.example/x?token=t0k","api_key":"k-777","password": "hunter2","retries":3}}"#;
        let e = redacted_excerpt(json, 1000);
        for secret in ["ABCDEF123456", "pw9", "t0k", "k-777", "hunter2"] {
            assert!(!e.contains(secret), "{secret} in {e}");
        }
        assert!(e.contains("Incorrect API key provided"), "{e}");
        assert!(
            e.contains("internal.example") && e.contains("\"retries\":3"),
            "{e}"
        );

        let text =
            "upstream said: password: hunter2 token=abc123&x=1 Authorization: Bearer eyJhbGciOi \
                    key sk-proj-0123456789 at https://u:pw9@h.example/";
        let e = redacted_excerpt(text, 1000);
        for secret in ["hunter2", "abc123", "eyJhbGciOi", "0123456789", "pw9"] {
            assert!(!e.contains(secret), "{secret} in {e}");
        }
        assert!(e.contains("x=1") && e.contains("h.example"), "{e}");

        let long = "x".repeat(500);
        let e = redacted_excerpt(&long, 200);
        assert_eq!(e.chars().count(), 201);
        assert!(e.ends_with('…'));
        assert_eq!(redacted_excerpt("line\nbreak\u{7}", 100), "line break ");
    }

    #[test]
    fn plugin_tables_are_masked() {
        let table: toml::Table = toml::from_str(
            r#"
            endpoint = "https://u:pw1@svc.example/"
            api_token = "tok2"
            weights = { a = 1.0 }
            [auth]
            client_id = "public"
            "#,
        )
        .unwrap();
        #[derive(serde::Serialize)]
        struct W(#[serde(serialize_with = "redact_table")] toml::Table);
        let text = toml::to_string(&W(table)).unwrap();
        assert!(!text.contains("pw1") && !text.contains("tok2"), "{text}");
        assert!(!text.contains("public"), "{text}");
        assert!(text.contains("a = 1.0"), "{text}");
    }
}
