//! The boundary between the systemprompt host and its modules.
//!
//! A module is a `cdylib` described by a `module.yaml`. It implements [`Module`], lists its
//! typed [`Command`]s in [`Module::routes`], and exports itself with one macro. This is a
//! complete module:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use systemprompt_module_sdk::{Command, Module, ModuleContext, ModuleError, Router};
//!
//! pub struct Greeter {
//!     greeting: String,
//! }
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct GreeterConfig {
//!     greeting: String,
//! }
//!
//! /// `greeter:greet --name <name>`
//! pub enum Greet {}
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct GreetParams {
//!     name: String,
//! }
//!
//! impl Command for Greet {
//!     const NAME: &'static str = "greeter:greet";
//!     type Params = GreetParams;
//!     type Output = String;
//! }
//!
//! impl Module for Greeter {
//!     const NAME: &'static str = "greeter";
//!     type Config = GreeterConfig;
//!
//!     fn init(config: GreeterConfig, _cx: ModuleContext) -> Result<Self, ModuleError> {
//!         Ok(Greeter { greeting: config.greeting })
//!     }
//!
//!     fn routes(router: &mut Router<Self>) {
//!         router.sync::<Greet, _>(|module, params, _call| Ok(format!("{}, {}!", module.greeting, params.name)));
//!     }
//! }
//!
//! systemprompt_module_sdk::export_module!(Greeter);
//! ```
//!
//! with its `module.yaml`:
//!
//! ```yaml
//! name: greeter
//! version: 0.1.0
//! library: greeter
//! commands:
//!   - name: greet
//!     summary: Greets someone.
//!     args:
//!       - { name: name, type: string, required: true, help: Who to greet }
//! config:
//!   greeting: Hello
//! ```
//!
//! # Layout
//!
//! - [`abi`]: the versioned C tables (protocol only, no IO).
//! - [`manifest`]: `module.yaml`, read by the host without loading code.
//! - [`Module`], [`Command`], [`Router`], [`Host`]: the safe API.
//! - [`export`]: the `extern "C"` glue behind [`export_module!`].
//! - [`testing`]: run a module in-process against a fake host.
//! - [`host_commands`]: typed requests and responses of the host's own `host:*` commands.
//! - [`occurrence`]: the scheduled occurrence a call runs for (`Call::occurrence`).
//!
//! A module's own typed commands live beside it, in its `api/` crate (`system-api`,
//! `scheduler-api`), not here: a new module never edits this crate.
//!
//! Architecture Invariant: this crate knows nothing about SQLite, HTTP or the host's
//! internals; what crosses the boundary is bytes (JSON) and function pointers.

pub mod abi;
pub mod error;
pub mod export;
pub mod host;
pub mod host_commands;
mod logging;
pub mod manifest;
mod module;
pub mod occurrence;
mod router;
pub mod testing;
pub mod wire;

// Re-exports. Consider semver implications carefully.
pub use error::{CommandError, ModuleError, RetryHint};
pub use host::{CallOptions, Host};
pub use module::{Command, Event, Module, ModuleContext};
pub use occurrence::Occurrence;
pub use router::{BoxFuture, Call, Router};
