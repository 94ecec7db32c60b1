//! Hostile preprocessor: sleeps 20 s through WASI clocks (`std::thread::sleep`),
//! where epoch interruption cannot reach it. The host must end the call at its
//! deadline and free the request. Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};

struct Sleeper;

impl Guest for Sleeper {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        std::thread::sleep(std::time::Duration::from_secs(20));
        Ok(q)
    }
}

autbot_sdk::export_preprocessor!(Sleeper);
