//! The scheduler as a module of the host: built from its config, it opens the store in
//! `init` (through `store::open`, keyed by `databasePath`), starts the engine in `start` (recovering interrupted runs first) and stops it in
//! `stop`. Command handlers reach the store, the engine and the host through
//! [`Scheduler`].

use std::sync::{Arc, Mutex, OnceLock};

use systemprompt_module_sdk::{Host, Module, ModuleContext, ModuleError, Router};

use crate::clock::{Clock, SystemClock};
use crate::config::SchedulerConfig;
use crate::engine::{Engine, EngineHandle};
use crate::host_bus::HostBus;
use crate::store::{self, Location, Store, StoreError};

/// The scheduler module's state.
pub struct Scheduler {
    pub(crate) config: SchedulerConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) host: Host,
    runtime: tokio::runtime::Handle,
    // Invariant: set once by `start`; commands that need the engine answer `unavailable`
    // before that.
    handle: OnceLock<EngineHandle>,
    engine: Mutex<Option<Engine>>,
    // Bumped after every appended log batch: followers (`scheduler:logs --follow`,
    // `scheduler:run --wait`) wait on it instead of polling the store. It says only that
    // something changed; a follower reads from its cursor to see what.
    log_changes: tokio::sync::watch::Sender<()>,
}

impl Scheduler {
    /// The running engine's handle, once started.
    pub(crate) fn engine(&self) -> Option<&EngineHandle> {
        self.handle.get()
    }

    /// Tells followers that log lines were appended.
    pub(crate) fn logs_changed(&self) {
        self.log_changes.send_replace(());
    }

    /// A receiver that wakes at the next [`Scheduler::logs_changed`] (subscribe before
    /// reading, so a batch written in between is not missed).
    pub(crate) fn watch_logs(&self) -> tokio::sync::watch::Receiver<()> {
        self.log_changes.subscribe()
    }

    /// Runs a future on the module's runtime and waits for it from a non-runtime thread
    /// (the host calls `start` and `stop` from blocking threads).
    fn block_on<T: Send + 'static>(
        &self,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, ModuleError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| ModuleError::new("the scheduler runtime dropped a lifecycle task"))
    }
}

impl Module for Scheduler {
    const NAME: &'static str = "scheduler";
    type Config = serde_json::Value;

    fn init(config: serde_json::Value, cx: ModuleContext) -> Result<Self, ModuleError> {
        let config = SchedulerConfig::from_json(&config).map_err(ModuleError::new)?;
        config.validate().map_err(ModuleError::new)?;
        let location =
            Location::from_config(config.database_path.as_deref(), cx.data_dir()).map_err(ModuleError::new)?;
        let store = store::open(&location).map_err(|error| match error {
            // Its message already names the database and says what to do.
            StoreError::Damaged(_) | StoreError::Unsupported(_) => ModuleError::new(error.to_string()),
            error => ModuleError::new(format!("cannot open the scheduler database {location}: {error}")),
        })?;
        tracing::info!(database = %location, node = %config.node_id, "Scheduler store open.");
        Ok(Scheduler {
            config,
            store,
            clock: Arc::new(SystemClock),
            host: cx.host().clone(),
            runtime: cx.runtime().clone(),
            handle: OnceLock::new(),
            engine: Mutex::new(None),
            log_changes: tokio::sync::watch::Sender::new(()),
        })
    }

    fn routes(router: &mut Router<Self>) {
        crate::commands::routes(router);
    }

    fn start(self: &Arc<Self>) -> Result<(), ModuleError> {
        let config = self.config.clone();
        let store = self.store.clone();
        let bus = Arc::new(HostBus::new(self.host.clone()));
        let clock = self.clock.clone();
        let engine = self.block_on(Engine::start(config, store, bus, clock))?.map_err(ModuleError::new)?;
        let _ = self.handle.set(engine.handle());
        *self.engine.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(engine);
        Ok(())
    }

    fn stop(&self) {
        let engine = self.engine.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(engine) = engine {
            match self.block_on(engine.stop()) {
                Ok(report) => tracing::info!(
                    finished = report.finished,
                    interrupted = report.interrupted,
                    "Scheduler engine stopped."
                ),
                Err(error) => tracing::warn!(%error, "Scheduler engine stop failed."),
            }
        }
    }
}

systemprompt_module_sdk::export_module!(Scheduler);
