//! Loading one plugin file: pin check, compile, capability check against the grant,
//! world check, and an optional self-test call. Nothing here touches the serving
//! version; the registry swaps in what this returns.

use super::bindings::{preprocessor, prompt_builder, ranker, types};
use super::host_state::HostState;
use super::imports;
use super::runtime::Runtime;
use super::signature::SignaturePolicy;
use super::Capability;
use crate::config::{Hook, PluginEntry};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::SystemTime;
use wasmtime::component::{ComponentExportIndex, HasSelf, InstancePre, Linker};

/// One loaded version of a plugin.
pub struct LoadedPlugin {
    /// Lowercase hex SHA-256 of the file: the plugin's version.
    pub sha256: String,
    pub size: usize,
    pub loaded_at: SystemTime,
    /// The component's imports (capabilities and WASI interfaces).
    pub imports: Vec<String>,
    /// The component linked against exactly its grant, ready to instantiate.
    pub pre: InstancePre<HostState>,
    /// The hook's export (checked against the hook's world at load).
    pub export: ComponentExportIndex,
    /// Who signed the file (key id), when its signature was verified.
    pub signer: Option<String>,
    /// The most linear memory one call of this version has used, in bytes.
    pub peak_memory: std::sync::atomic::AtomicU64,
}

/// Reads, verifies and prepares the plugin at `path`.
pub fn load(
    runtime: &Runtime,
    signatures: &SignaturePolicy,
    entry: &PluginEntry,
    path: &Path,
) -> Result<LoadedPlugin, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // Before anything is compiled or taken from the compiled-code cache.
    let signer = signatures.check(&entry.name, path, &bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(pin) = &entry.sha256 {
        if !pin.eq_ignore_ascii_case(&sha256) {
            return Err(format!(
                "sha256 pin mismatch: {} has sha256 {sha256}, the configuration pins {pin}",
                path.display()
            ));
        }
    }
    let component = runtime.compile(&bytes).map_err(|e| {
        format!(
            "{} is not a valid WebAssembly component: {e:#}",
            path.display()
        )
    })?;
    let engine = &runtime.engine;
    let mut imports = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        imports.push(name.to_string());
        if name.starts_with("autbot:plugin/types") || name.starts_with("wasi:") {
            continue;
        }
        match Capability::from_import(name) {
            Some(cap) if entry.capabilities.contains(&cap) => {}
            Some(cap) => {
                return Err(format!(
                    "plugin `{}` imports capability `{cap}` ({name}) which is not granted; \
                     add \"{cap}\" to its capabilities to allow it",
                    entry.name
                ))
            }
            None => {
                return Err(format!(
                    "plugin `{}` imports `{name}`, which the host does not provide",
                    entry.name
                ))
            }
        }
    }
    let linker = linker_for(runtime, &entry.capabilities).map_err(|e| format!("{e:#}"))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("plugin `{}` cannot be linked: {e:#}", entry.name))?;
    let world = |e: wasmtime::Error| {
        format!(
            "plugin `{}` does not implement the `{}` world (hook = \"{}\"): {e:#}",
            entry.name, entry.hook, entry.hook
        )
    };
    // The generated bindings check the export's name and type against the world.
    match entry.hook {
        Hook::Preprocessor => preprocessor::PreprocessorPre::new(pre.clone())
            .map(drop)
            .map_err(world)?,
        Hook::Ranker => ranker::RankerPre::new(pre.clone())
            .map(drop)
            .map_err(world)?,
        Hook::PromptBuilder => prompt_builder::PromptBuilderPre::new(pre.clone())
            .map(drop)
            .map_err(world)?,
    }
    let export = component
        .get_export_index(None, entry.hook.export())
        .ok_or_else(|| world(wasmtime::Error::msg("the hook's export is missing")))?;
    Ok(LoadedPlugin {
        sha256,
        size: bytes.len(),
        loaded_at: SystemTime::now(),
        imports,
        pre,
        export,
        signer,
        peak_memory: Default::default(),
    })
}

/// A linker with locked-down WASI and exactly the granted capabilities.
///
/// Every plugin gets the WASI 0.2 interfaces that language runtimes import at start-up
/// (what Rust's std, componentize-js and componentize-py components need), in a
/// context with nothing behind them: no preopened directories, no sockets (TCP, UDP
/// and name lookup refused), no environment or arguments, stdin empty, stdout
/// discarded, stderr bounded (`stderr_pipe.rs`). Clocks and randomness are real: a
/// sleep is bounded by the call's deadline like any other wait.
fn linker_for(runtime: &Runtime, granted: &[Capability]) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(&runtime.engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    imports::link(&mut linker, granted)?;
    Ok(linker)
}
