//! `autbot plugin inspect`: what a security reviewer reads about a component file:
//! its world, the capabilities it asks for, its other imports, exports, size and hash.

use super::Capability;
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// A human-readable report on the component at `path`.
pub fn inspect(path: &Path) -> Result<String, String> {
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
    let mut capabilities = Vec::new();
    let mut other = Vec::new();
    for (name, _) in ty.imports(&engine) {
        match Capability::from_import(name) {
            Some(cap) => capabilities.push(format!("{cap:<8} ({name})")),
            None => other.push(name.to_string()),
        }
    }
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
    let world = exports
        .iter()
        .find_map(|e| match e.as_str() {
            "preprocess" => Some("preprocessor"),
            "rank" => Some("ranker"),
            "build-prompt" => Some("prompt-builder"),
            _ => None,
        })
        .unwrap_or("unknown (exports no AutBot hook)");
    let list = |v: &[String]| {
        if v.is_empty() {
            "  (none)\n".to_string()
        } else {
            v.iter().map(|s| format!("  {s}\n")).collect()
        }
    };
    Ok(format!(
        "file:         {}\nsize:         {} bytes\nsha256:       {}\nworld:        autbot:plugin/{world}\ncapabilities requested (host imports):\n{}other imports (WASI, sandboxed by the host: no files, network or environment):\n{}exports:\n{}",
        path.display(),
        bytes.len(),
        hex::encode(Sha256::digest(&bytes)),
        list(&capabilities),
        list(&other),
        list(&exports),
    ))
}
