//! The wasmtime engine shared by every plugin: component model, epoch interruption
//! driven by a ticker thread (calls are async and yield at every tick, so a deadline
//! is enforced by a timer even while the guest computes), the pooling instance
//! allocator with per-component caps, and an on-disk cache of compiled components so
//! restarts do not recompile unchanged plugins.
//!
//! The cache holds native code that is loaded without further checks, so it is only
//! used when nobody else can write to it: the folder must be a real directory (not a
//! link) owned by this process's user and not writable by group or others (it is
//! created with mode 0700), and each entry must be a regular file owned by the same
//! user and not writable by others. Otherwise the cache is ignored, with a warning,
//! and plugins are compiled from their (pinned) `.wasm` files.

use super::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

pub use crate::contract::MAX_PLUGIN_MEMORY_MB;

/// Native stack of one call (the guest's wasm stack, 512 KiB by default, plus room
/// for host functions).
const ASYNC_STACK_BYTES: usize = 2 << 20;

/// Plugin instances that may exist at once (pool slots); the registry lets at most
/// `CONCURRENT_CALLS` (128) calls run at once, each within the per-call caps, so the
/// pool's totals below are never exceeded.
const POOL_INSTANCES: u32 = 512;

/// Bytes at the start of each pooled memory and table that are reset in place
/// (only the pages a call dirtied, found with Linux's `PAGEMAP_SCAN`) instead of
/// being returned to the kernel: the next call finds them resident, so it takes
/// no page faults and the reset needs no `madvise`.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The engine plus the compiled-component cache.
#[derive(Clone)]
pub struct Runtime {
    pub engine: Engine,
    cache_dir: Option<PathBuf>,
}

impl Runtime {
    /// Builds the engine and starts its epoch ticker (which stops when the engine is dropped).
    pub fn new(cache_dir: Option<PathBuf>) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Host functions (search, embed, llm, WASI) are async, so a call waiting on
        // one can be dropped at its deadline; guest stacks come from the pool.
        config.async_stack_size(ASYNC_STACK_BYTES);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            // No component may take more than its share of the pool.
            .max_core_instances_per_component(MAX_INSTANCES as u32)
            .max_memories_per_component(MAX_MEMORIES as u32)
            .max_tables_per_component(MAX_TABLES as u32)
            .max_memory_size((MAX_PLUGIN_MEMORY_MB << 20) as usize)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Auto);
        config.memory_reservation(MAX_PLUGIN_MEMORY_MB << 20);
        config.memory_guard_size(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Self { engine, cache_dir })
    }

    /// Compiles a component, or loads it from the cache when this exact file was
    /// compiled before by this exact engine build and configuration.
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, bytes);
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let key = format!(
            "{}-{:016x}.cwasm",
            hex::encode(Sha256::digest(bytes)),
            hasher.finish()
        );
        if let Err(why) = private_dir(dir) {
            tracing::warn!(cache_dir = %dir.display(), reason = %why, "not using the compiled-plugin cache: compiling from the .wasm file");
            return Component::new(&self.engine, bytes);
        }
        let path = dir.join(key);
        match read_private_file(&path) {
            Ok(Some(compiled)) => {
                // SAFETY: only this process's user can write the folder and the file
                // (checked above); entries are written by `serialize` below from a
                // successful compilation with a compatible engine (the compatibility
                // hash is in the name) and renamed into place whole. The bytes are
                // read into memory first, so the file cannot change under the loader.
                match unsafe { Component::deserialize(&self.engine, &compiled) } {
                    Ok(component) => return Ok(component),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "ignoring a bad plugin cache entry")
                    }
                }
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(path = %path.display(), reason = %why, "ignoring a plugin cache entry")
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        if let Err(e) = write_cache(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a compiled plugin");
        }
        Ok(component)
    }
}

fn write_cache(path: &Path, component: &Component) -> wasmtime::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&component.serialize()?)?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Creates the cache folder (mode 0700) if needed, and checks that only this
/// process's user can write to it.
fn private_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot inspect it: {e}"))?;
    if !meta.is_dir() {
        return Err("it is not a directory (or is a symbolic link)".into());
    }
    owned_and_private(&meta)
}

/// The bytes of a cache entry, if there is one that only this user can have written.
fn read_private_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot inspect it: {e}")),
    };
    if !meta.is_file() {
        return Err("it is not a regular file (or is a symbolic link)".into());
    }
    owned_and_private(&meta)?;
    std::fs::read(path)
        .map(Some)
        .map_err(|e| format!("cannot read it: {e}"))
}

fn owned_and_private(meta: &std::fs::Metadata) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by this process's uid {me}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "group or others may write to it (mode {:o}); chmod go-w",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}
