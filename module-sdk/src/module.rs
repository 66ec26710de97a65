//! The safe API a module author implements: the [`Module`] trait, typed [`Command`]s, the
//! [`ModuleContext`] a module is built with, and the [`Event`]s it receives.
//!
//! Nothing here knows about the C ABI; [`crate::export`] adapts a `Module` to it.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ModuleError;
use crate::host::Host;
use crate::router::Router;

/// A command type: its full bus name and its typed parameters and output.
///
/// The same type serves the module that owns the command (for routing) and any caller
/// (for typed dispatch through [`Host::call`]), so nobody hand-writes JSON.
pub trait Command: 'static {
    /// The full name on the bus, `namespace:command`.
    const NAME: &'static str;
    /// The JSON object the command takes.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The JSON value the command returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// An event delivered to a module that subscribed to it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Full name, `module:event` (for example `scheduler:task-created`).
    pub name: String,
    /// The JSON payload the publisher gave.
    pub payload: serde_json::Value,
}

/// Everything a module is built with. Nothing in a module is global: the host handle, the
/// runtime and the data directory all come from here.
#[derive(Clone)]
pub struct ModuleContext {
    pub(crate) host: Host,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) data_dir: PathBuf,
}

impl ModuleContext {
    /// The handle to dispatch commands, publish events and log through the host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The module's own tokio runtime. Each library links its own tokio, so a module never
    /// uses the host's runtime; spawn background work here.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The host's data directory; a module keeps its files under `data_dir()/<module name>`
    /// or in files named after itself.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }
}

/// A module: built from its config, it owns the commands it routes and may subscribe to
/// events (subscriptions are declared in `module.yaml`).
///
/// Lifecycle: `routes` (any time, without an instance) → `init` → `start` → calls and
/// events → `stop`. Calls may arrive on any thread, concurrently.
pub trait Module: Send + Sync + Sized + 'static {
    /// The module's name; the namespace of its commands. Must match `module.yaml`.
    const NAME: &'static str;

    /// The module's configuration: `module.yaml` defaults merged with overrides by the host.
    type Config: DeserializeOwned;

    /// Builds the module. Must not start background work yet.
    fn init(config: Self::Config, cx: ModuleContext) -> Result<Self, ModuleError>;

    /// Lists every command the module owns, one line each.
    fn routes(router: &mut Router<Self>);

    /// Starts background work; every module this one depends on has started.
    fn start(self: &Arc<Self>) -> Result<(), ModuleError> {
        Ok(())
    }

    /// Stops background work. May block until the module is quiet.
    fn stop(&self) {}

    /// Receives an event the module subscribed to. Runs on a delivery thread owned by the
    /// host for this module; keep it short or hand the work to the runtime.
    fn on_event(&self, _event: Event) {}
}
