//! Loading one plugin file: pin check, compile, capability check against the grant,
//! world check, and an optional self-test call. Nothing here touches the serving
//! version; the registry swaps in what this returns.

use super::bindings::{config, embed, llm, log, preprocessor, search, types};
use super::bindings::{prompt_builder, ranker};
use super::host_state::HostState;
use super::runtime::Runtime;
use super::Capability;
use crate::config::{Hook, PluginEntry};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::SystemTime;
use wasmtime::component::{HasSelf, Linker};

/// A component ready to instantiate for its hook.
pub enum HookPre {
    Preprocessor(preprocessor::PreprocessorPre<HostState>),
    Ranker(ranker::RankerPre<HostState>),
    PromptBuilder(prompt_builder::PromptBuilderPre<HostState>),
}

/// One loaded version of a plugin.
pub struct LoadedPlugin {
    /// Lowercase hex SHA-256 of the file: the plugin's version.
    pub sha256: String,
    pub size: usize,
    pub loaded_at: SystemTime,
    /// The component's imports (capabilities and WASI interfaces).
    pub imports: Vec<String>,
    pub pre: HookPre,
}

/// Reads, verifies and prepares the plugin at `path`.
pub fn load(runtime: &Runtime, entry: &PluginEntry, path: &Path) -> Result<LoadedPlugin, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
    let pre = match entry.hook {
        Hook::Preprocessor => {
            HookPre::Preprocessor(preprocessor::PreprocessorPre::new(pre).map_err(world)?)
        }
        Hook::Ranker => HookPre::Ranker(ranker::RankerPre::new(pre).map_err(world)?),
        Hook::PromptBuilder => {
            HookPre::PromptBuilder(prompt_builder::PromptBuilderPre::new(pre).map_err(world)?)
        }
    };
    Ok(LoadedPlugin {
        sha256,
        size: bytes.len(),
        loaded_at: SystemTime::now(),
        imports,
        pre,
    })
}

/// A linker with locked-down WASI and exactly the granted capabilities.
fn linker_for(runtime: &Runtime, granted: &[Capability]) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(&runtime.engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    for cap in granted {
        match cap {
            Capability::Log => {
                log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Config => {
                config::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Search => {
                search::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Embed => {
                embed::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Llm => {
                llm::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
        }
    }
    Ok(linker)
}
