//! The wasmtime engine shared by every plugin: component model, epoch interruption
//! driven by a ticker thread, the pooling instance allocator, and an on-disk cache
//! of compiled components so restarts do not recompile unchanged plugins.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Largest linear memory any plugin may be granted, in MiB.
pub const MAX_PLUGIN_MEMORY_MB: u64 = 256;

/// Plugin instances that may exist at once (pool slots).
const POOL_INSTANCES: u32 = 512;

/// Bytes at the start of each pooled memory and table that are reset in place
/// (only the pages a call dirtied, found with Linux's `PAGEMAP_SCAN`) instead of
/// being returned to the kernel: the next call finds them resident, so it takes
/// no page faults and the reset needs no `madvise`.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The engine plus the compiled-component cache.
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
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
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
        let path = dir.join(key);
        if path.exists() {
            // SAFETY: the cache directory is the host's own; files in it were written by
            // `serialize` below from a successful compilation with a compatible engine
            // (the compatibility hash is in the name), and are renamed into place whole.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring a bad plugin cache entry")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        if let Err(e) = write_cache(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a compiled plugin");
        }
        Ok(component)
    }
}

fn write_cache(path: &std::path::Path, component: &Component) -> wasmtime::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| wasmtime::Error::msg("no cache dir"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
