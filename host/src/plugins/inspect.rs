//! `autbot plugin inspect`: what a security reviewer reads about a component file:
//! its world and contract version, the capabilities it asks for beside those its
//! chain entry grants, its other imports, exports, size, hash and signer.

use super::signature::{claimed_signer, SignaturePolicy};
use super::Capability;
use crate::config::PluginsConfig;
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// A human-readable report on the component at `path`; `plugins` (the configuration,
/// when there is one) tells what its chain entry grants and which keys are trusted.
pub fn inspect(path: &Path, plugins: Option<&PluginsConfig>) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let engine =
        Engine::new(Config::new().wasm_component_model(true)).map_err(|e| e.to_string())?;
    let component = Component::new(&engine, &bytes).map_err(|e| {
        format!(
            "{} is not a valid WebAssembly component: {e:#}",
            path.display()
        )
    })?;
    let ty = component.component_type();
    let entry = plugins.and_then(|p| entry_for(p, path));
    let mut capabilities = Vec::new();
    let mut other = Vec::new();
    let mut versions = std::collections::BTreeSet::new();
    for (name, _) in ty.imports(&engine) {
        if let Some(v) = name
            .strip_prefix("autbot:plugin/")
            .and_then(|n| n.split('@').nth(1))
        {
            versions.insert(v.to_string());
        }
        // The shared types of the contract, not a capability nor WASI.
        if name.starts_with("autbot:plugin/types") {
            continue;
        }
        match Capability::from_import(name) {
            Some(cap) => {
                let grant = match entry {
                    Some(e) if e.capabilities.contains(&cap) => "  granted",
                    Some(_) => "  NOT GRANTED: the host refuses to load it",
                    None => "",
                };
                capabilities.push(format!("{cap:<12} ({name}){grant}"))
            }
            None => other.push(name.to_string()),
        }
    }
    let contract = if versions.is_empty() {
        "not named (imports no autbot interface)".to_string()
    } else {
        versions
            .into_iter()
            .map(|v| format!("autbot:plugin@{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let granted = match entry {
        Some(e) => format!(
            "chain entry `{}` (hook {}) grants: [{}]\n",
            e.name,
            e.hook,
            e.capabilities
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "chain entry: none in the configuration names this file\n".to_string(),
    };
    let signer = signer_line(path, &bytes, plugins);
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
    let world = exports
        .iter()
        .find_map(|e| crate::config::Hook::exporting(e))
        .map_or("unknown (exports no AutBot hook)", |h| h.name());
    let list = |v: &[String]| {
        if v.is_empty() {
            "  (none)\n".to_string()
        } else {
            v.iter().map(|s| format!("  {s}\n")).collect()
        }
    };
    Ok(format!(
        "file:         {}\nsize:         {} bytes\nsha256:       {}\nsigner:       {signer}\nworld:        autbot:plugin/{world}\ncontract:     {contract}\n{granted}capabilities requested (host imports):\n{}other imports (WASI, sandboxed by the host: no files, network or environment):\n{}exports:\n{}",
        path.display(),
        bytes.len(),
        hex::encode(Sha256::digest(&bytes)),
        list(&capabilities),
        list(&other),
        list(&exports),
    ))
}

/// The chain entry whose file is `path`.
fn entry_for<'a>(
    plugins: &'a PluginsConfig,
    path: &Path,
) -> Option<&'a crate::config::PluginEntry> {
    let want = std::fs::canonicalize(path).ok()?;
    plugins.chain.iter().find(|e| {
        let p = if e.path.is_absolute() {
            e.path.clone()
        } else {
            plugins.dir.join(&e.path)
        };
        std::fs::canonicalize(p).is_ok_and(|p| p == want)
    })
}

/// Who signed the file, and whether the configuration's trusted keys accept it.
fn signer_line(path: &Path, bytes: &[u8], plugins: Option<&PluginsConfig>) -> String {
    let Some(claimed) = claimed_signer(path) else {
        return "unsigned (no .sig file)".into();
    };
    let keys = plugins
        .map(|p| p.trusted_keys.as_slice())
        .unwrap_or_default();
    if keys.is_empty() {
        return format!("{claimed} (not verified: no plugins.trusted_keys)");
    }
    match SignaturePolicy::new(keys, true).and_then(|p| p.check("inspect", path, bytes)) {
        Ok(_) => format!("{claimed} (verified: a trusted key)"),
        Err(e) => format!("{claimed} (NOT VALID: {e})"),
    }
}
