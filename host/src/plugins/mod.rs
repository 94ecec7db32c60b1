//! The WebAssembly plugin system: the hook worlds of `wit/autbot.wit` run as
//! sandboxed components (wasmtime), each granted only its configured capabilities,
//! hot-reloaded when their files change.
//!
//! | piece | file |
//! |---|---|
//! | capability and hook names | `crate::contract` |
//! | generated bindings | `bindings.rs` |
//! | per-call store data (the grant, budgets) | `host_state.rs` |
//! | capability imports, bounded | `imports.rs` |
//! | bounded lifting of guest values | `lift.rs` |
//! | per-call resource caps | `limits.rs` |
//! | plugin stderr | `stderr_pipe.rs` |
//! | services behind capabilities | `services.rs` |
//! | engine, epoch ticker, compile cache | `runtime.rs` |
//! | load + verify one file | `loader.rs` |
//! | one sandboxed call | `call.rs` |
//! | candidate versions: share, stats, rollback | `canary.rs` |
//! | slots, chains, reload, status | `registry.rs` |
//! | file watching | `watcher.rs` |
//! | signed plugins | `signature.rs` |
//! | security review of a file | `inspect.rs` |

mod bindings;
mod call;
mod canary;
mod host_state;
mod imports;
pub mod inspect;
mod lift;
mod limits;
mod loader;
mod registry;
mod runtime;
mod services;
pub mod signature;
mod stderr_pipe;
pub mod watcher;

pub use crate::contract::{Capability, ContractVersion, Hook};
pub use registry::{
    CanaryActionError, CanaryStatus, PluginHost, PluginStatus, ReloadOutcome, RequestContext,
    VersionCounters,
};
pub use runtime::MAX_PLUGIN_MEMORY_MB;
pub use services::HostServices;
