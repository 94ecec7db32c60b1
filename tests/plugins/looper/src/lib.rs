//! Test preprocessor: spins forever. The host must stop it at the call's
//! CPU deadline (epoch/fuel interruption) and fail only that call.
//! Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};
use std::hint::black_box;

struct Looper;

impl Guest for Looper {
    fn preprocess(_q: Query) -> Result<Query, Rejection> {
        // black_box hides the counter from the optimiser, so the loop has an
        // observable effect and cannot be removed or folded.
        let mut counter: u64 = 0;
        loop {
            counter = black_box(counter).wrapping_add(1);
        }
    }
}

autbot_sdk::export_preprocessor!(Looper);
