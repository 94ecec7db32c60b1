//! Loading: the TOML file, then `AUTBOT_<SECTION>__<KEY>` environment overrides,
//! then secrets from the environment.

use super::Config;
use secrecy::SecretString;
use std::path::Path;

/// Prefix of every configuration override variable.
const ENV_PREFIX: &str = "AUTBOT_";

/// Loads the configuration from `path` (a missing file is an error only when
/// `required`) and the process environment.
pub fn load(path: &Path, required: bool) -> Result<Config, Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
        Err(e) => return Err(vec![format!("cannot read {}: {e}", path.display())]),
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| vec![format!("{}: {}", path.display(), e.message())])?;
    let mut problems = Vec::new();
    for (name, value) in std::env::vars() {
        if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            if let Err(p) = apply_override(&mut table, rest, &value) {
                problems.push(format!("{name}: {p}"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let merged = toml::to_string(&table).map_err(|e| vec![e.to_string()])?;
    let mut config: Config = toml::from_str(&merged).map_err(|e| vec![describe(&merged, &e)])?;
    config.llm.api_key = secret_env("OPENAI_API_KEY");
    config.embeddings.api_key = secret_env("OPENAI_API_KEY");
    config.plugins.resolve(config.security.environment);
    Ok(config)
}

fn secret_env(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from)
}

/// Sets `SECTION__KEY[__SUBKEY]` in the table. The value is read as JSON when it
/// parses as JSON (numbers, booleans, lists, objects), as a plain string otherwise.
fn apply_override(table: &mut toml::Table, path: &str, raw: &str) -> Result<(), String> {
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    if keys.len() < 2 || keys.iter().any(|k| k.is_empty()) {
        // Not a configuration key (e.g. AUTBOT_LOG); ignore.
        return Ok(());
    }
    let value = match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) | Err(_) => toml::Value::String(raw.to_string()),
        Ok(json) => toml::Value::try_from(json).map_err(|e| e.to_string())?,
    };
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut node = table;
    for key in parents {
        let entry = node
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a table"))?;
    }
    node.insert(last.clone(), value);
    Ok(())
}

/// Turns a deserialisation error into one line naming the `section.key`.
fn describe(text: &str, err: &toml::de::Error) -> String {
    let Some(span) = err.span() else {
        return err.message().to_string();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.rsplit('\n').next().unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let section = before
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_string())
        })
        .unwrap_or_default();
    match (section.is_empty(), key.is_empty()) {
        (false, false) => format!("{section}.{key}: {}", err.message()),
        (false, true) => format!("{section}: {}", err.message()),
        _ => err.message().to_string(),
    }
}
