//! Per-call resource caps: linear memory counted across *all* of a call's memories
//! (wasmtime's `StoreLimits` caps each memory separately, so a component with many
//! internal modules would get `memory_mb` per memory), and caps on the number of
//! core instances, memories and tables a call may create. The pooling allocator adds
//! the same caps per component (`runtime.rs`), so no plugin can take the shared pool.

use wasmtime::{ResourceLimiter, Result};

/// Core instances one call may create (a Rust component needs 3–5; JavaScript and
/// Python components up to ~20).
pub const MAX_INSTANCES: usize = 32;
/// Linear memories one call may create (components normally have one or two).
pub const MAX_MEMORIES: usize = 4;
/// Tables one call may create.
pub const MAX_TABLES: usize = 16;
/// Elements of one table.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Which cap a call hit: carried in the trap so the failure is classified exactly.
#[derive(Debug, thiserror::Error)]
pub enum LimitHit {
    #[error("linear memory would reach {desired_total} bytes, over the call's cap of {cap}")]
    Memory { desired_total: usize, cap: usize },
    #[error("a table would reach {0} elements, over the cap of {MAX_TABLE_ELEMENTS}")]
    Table(usize),
}

/// The limiter of one call's store.
pub struct CallLimits {
    memory_cap: usize,
    memory_used: usize,
}

impl CallLimits {
    pub fn new(memory_cap: usize) -> Self {
        Self {
            memory_cap,
            memory_used: 0,
        }
    }

    /// Linear memory of all the call's instances (it only grows during a call).
    pub fn memory_used(&self) -> usize {
        self.memory_used
    }
}

impl ResourceLimiter for CallLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        max: Option<usize>,
    ) -> Result<bool> {
        let total = self
            .memory_used
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.memory_cap {
            return Err(wasmtime::Error::new(LimitHit::Memory {
                desired_total: total,
                cap: self.memory_cap,
            }));
        }
        if max.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> Result<()> {
        Err(error.context("growing a plugin's memory failed"))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        max: Option<usize>,
    ) -> Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(wasmtime::Error::new(LimitHit::Table(desired)));
        }
        Ok(max.is_none_or(|m| desired <= m))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_counted_across_memories() {
        let mut l = CallLimits::new(10 << 20);
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        // A third memory of 4 MiB would make 12 MiB in all.
        let err = l.memory_growing(0, 4 << 20, None).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<LimitHit>(),
            Some(LimitHit::Memory { .. })
        ));
        // Growing an existing one by 2 MiB still fits.
        assert!(l.memory_growing(4 << 20, 6 << 20, None).unwrap());
    }
}
