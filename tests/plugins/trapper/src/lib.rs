//! Test preprocessor: traps (a Rust panic, which is a wasm `unreachable`
//! with `panic = "abort"`) when the query contains "boom"; otherwise returns
//! the query unchanged. Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};

struct Trapper;

impl Guest for Trapper {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        if q.text.contains("boom") {
            panic!("trapper: the query contains \"boom\"");
        }
        Ok(q)
    }
}

autbot_sdk::export_preprocessor!(Trapper);
