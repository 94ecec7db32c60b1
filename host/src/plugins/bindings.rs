//! Host-side bindings of the three hook worlds of `wit/autbot.wit`. The shared
//! interfaces (types and the capability imports) are generated once, with the
//! `preprocessor` world, and reused by the other two.

/// World `preprocessor` (and the shared interfaces).
pub mod preprocessor {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "preprocessor",
    });
}

/// World `ranker`.
pub mod ranker {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "ranker",
        with: {
            "autbot:plugin": super::preprocessor::autbot::plugin,
        },
    });
}

/// World `prompt-builder`.
pub mod prompt_builder {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "prompt-builder",
        with: {
            "autbot:plugin": super::preprocessor::autbot::plugin,
        },
    });
}

pub use preprocessor::autbot::plugin::{log, types};
