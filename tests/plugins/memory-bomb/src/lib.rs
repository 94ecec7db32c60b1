//! Test preprocessor: allocates 1 MiB chunks forever. The host's
//! linear-memory cap must make the allocation fail (the guest then aborts,
//! i.e. traps) and fail only that call. Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};
use std::hint::black_box;

struct MemoryBomb;

const CHUNK: usize = 1 << 20;

impl Guest for MemoryBomb {
    fn preprocess(_q: Query) -> Result<Query, Rejection> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            // Touch the chunk so it is really used, and hide it from the
            // optimiser so the allocation cannot be elided.
            chunk[CHUNK - 1] = hoard.len() as u8;
            hoard.push(black_box(chunk));
            black_box(&hoard);
        }
    }
}

autbot_sdk::export_preprocessor!(MemoryBomb);
