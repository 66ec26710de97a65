//! A running host: loads modules, builds the buses, runs init/start in dependency order and
//! stop in reverse, and answers the `host:*` commands itself.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use serde_json::json;
use systemprompt_module_sdk::host_commands::{ListModules, LookUpCommand, LookUpCommandParams, ModuleInfo};
use systemprompt_module_sdk::manifest::Manifest;
use systemprompt_module_sdk::wire::InitRequest;
use systemprompt_module_sdk::{Command, CommandError};
use tokio_util::sync::CancellationToken;

use crate::bus::events::EventBus;
use crate::bus::{BuiltinFn, CallResult, CommandBus};
use crate::config::HostConfig;
use crate::loader::{self, LoadedModule, ModuleState, module_config};

/// The host's own commands, as a manifest.
pub fn builtin_manifest() -> Manifest {
    Manifest::parse("host/host.yaml", include_str!("../host.yaml")).expect("invariant: the built-in manifest is valid")
}

/// A running host.
pub struct Host {
    config: HostConfig,
    modules: Vec<Arc<LoadedModule>>,
    skipped: Vec<String>,
    bus: Arc<CommandBus>,
    events: Arc<EventBus>,
    shutdown: CancellationToken,
    started: Instant,
    tokens: Arc<crate::tokens::TokenStore>,
    http_addr: Arc<OnceLock<String>>,
}

fn json_result(value: &impl serde::Serialize) -> CallResult {
    serde_json::to_vec(value).map_err(|error| CommandError::internal(error.to_string()))
}

struct Shared {
    modules: Vec<Arc<LoadedModule>>,
    skipped: OnceLock<Vec<String>>,
    // Invariant: set once, right after the bus is built; the bus owns the builtins that
    // hold this, hence the weak reference.
    bus: OnceLock<Weak<CommandBus>>,
    events: Arc<EventBus>,
    config: HostConfig,
    started: Instant,
    tokens: Arc<crate::tokens::TokenStore>,
    // Invariant: set once the HTTP API listens (never when it is off).
    http_addr: Arc<OnceLock<String>>,
}

/// The answer of `host:modules` (and the `modules` of `host:status`).
fn modules_report(shared: &Shared) -> Vec<ModuleInfo> {
    shared
        .modules
        .iter()
        .map(|m| ModuleInfo {
            name: m.name().to_owned(),
            version: m.manifest.version.clone(),
            state: m.state().as_str().to_owned(),
            description: m.manifest.description.clone(),
            library: m.library_path.display().to_string(),
            commands: m.manifest.command_names().collect(),
        })
        .collect()
}

/// `host:command`: the bus's own answer to whether it routes a command.
fn look_up_command(shared: &Shared, payload: &[u8]) -> CallResult {
    let payload: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    let params: LookUpCommandParams = serde_json::from_slice(payload)
        .map_err(|error| CommandError::invalid_params(format!("{}: {error}", LookUpCommand::NAME)))?;
    let bus =
        shared.bus.get().and_then(Weak::upgrade).ok_or_else(|| {
            CommandError::new(systemprompt_module_sdk::error::code::UNAVAILABLE, "the host is stopping")
        })?;
    json_result(&bus.look_up(&params.name))
}

fn builtins(shared: Arc<Shared>, shutdown: CancellationToken) -> Vec<(String, BuiltinFn)> {
    let modules = shared.clone();
    let lookup = shared.clone();
    let (create, list, revoke) = (shared.tokens.clone(), shared.tokens.clone(), shared.tokens.clone());
    let status = shared;
    vec![
        ("tokens:create".to_owned(), Arc::new(move |payload: &[u8]| create.create(payload)) as BuiltinFn),
        ("tokens:list".to_owned(), Arc::new(move |_: &[u8]| list.list())),
        ("tokens:revoke".to_owned(), Arc::new(move |payload: &[u8]| revoke.revoke(payload))),
        (ListModules::NAME.to_owned(), Arc::new(move |_: &[u8]| json_result(&modules_report(&modules))) as BuiltinFn),
        (LookUpCommand::NAME.to_owned(), Arc::new(move |payload: &[u8]| look_up_command(&lookup, payload))),
        (
            "host:status".to_owned(),
            Arc::new(move |_: &[u8]| {
                json_result(&json!({
                    "pid": std::process::id(),
                    "version": env!("CARGO_PKG_VERSION"),
                    "data_dir": status.config.data_dir.display().to_string(),
                    "config_file": status.config.file_name(),
                    "uptime_secs": status.started.elapsed().as_secs_f64(),
                    "http": status.http_addr.get().map(|addr| format!("http://{addr}")),
                    "modules": modules_report(&status),
                    "skipped": status.skipped.get().cloned().unwrap_or_default(),
                    "events": { "published": status.events.published(), "subscribers": status.events.stats() },
                }))
            }),
        ),
        (
            "host:shutdown".to_owned(),
            Arc::new(move |_: &[u8]| {
                shutdown.cancel();
                json_result(&json!({ "stopping": true }))
            }),
        ),
    ]
}

impl Host {
    /// Loads and starts every module. Must run inside a multi-thread tokio runtime.
    pub async fn start(config: HostConfig) -> anyhow::Result<Arc<Host>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let started = Instant::now();
        let loader::Loaded { modules, mut skipped } = loader::load_all(&config);
        let events = Arc::new(EventBus::new(config.event_queue_capacity));
        let shutdown = CancellationToken::new();
        let tokens = Arc::new(crate::tokens::TokenStore::open(&config.data_dir)?);
        let http_addr = Arc::new(OnceLock::new());
        let shared = Arc::new(Shared {
            tokens: tokens.clone(),
            http_addr: http_addr.clone(),
            modules: modules.clone(),
            skipped: OnceLock::new(),
            bus: OnceLock::new(),
            events: events.clone(),
            config: config.clone(),
            started,
        });
        let bus = Arc::new(CommandBus::with_cancel_grace(
            &modules,
            builtins(shared.clone(), shutdown.clone()),
            config.call_timeout,
            config.cancel_grace,
        ));
        // The cell is fresh, so this first set cannot fail.
        let _ = shared.bus.set(Arc::downgrade(&bus));
        let emits: HashMap<String, Vec<String>> =
            modules.iter().map(|m| (m.name().to_owned(), m.manifest.events.emits.clone())).collect();
        let table =
            crate::host_table::host_table(bus.clone(), events.clone(), tokio::runtime::Handle::current(), emits);

        for module in &modules {
            if let Some(failed) = module
                .manifest
                .requires
                .iter()
                .find(|r| modules.iter().any(|m| m.name() == r.as_str() && m.state() == ModuleState::Failed))
            {
                module.set_state(ModuleState::Failed);
                skipped.push(format!("module {}: requires module '{failed}', which failed to start", module.name()));
                continue;
            }
            if let Err(message) = Host::init_and_start(&config, module, table).await {
                module.set_state(ModuleState::Failed);
                tracing::error!(module = module.name(), %message, "Module failed to start.");
                skipped.push(message);
                continue;
            }
            let patterns = module.manifest.events.subscribes.clone();
            if !patterns.is_empty() {
                let mut subscription = events.subscribe(module.name(), patterns);
                let module = module.clone();
                std::thread::Builder::new().name(format!("events-{}", module.name())).spawn(move || {
                    while let Some(event) = subscription.rx.blocking_recv() {
                        module.deliver(&event.name, &event.payload);
                    }
                })?;
            }
        }
        for message in &skipped {
            tracing::warn!(%message, "Module skipped.");
        }
        let _ = shared.skipped.set(skipped.clone());
        let host = Host { config, modules, skipped, bus, events, shutdown, started, tokens, http_addr };
        tracing::info!(
            modules = ?host.modules.iter().filter(|m| m.state() == ModuleState::Started).map(|m| m.name()).collect::<Vec<_>>(),
            skipped = host.skipped.len(),
            elapsed_ms = host.started.elapsed().as_millis(),
            "Host started."
        );
        Ok(Arc::new(host))
    }

    async fn init_and_start(
        config: &HostConfig,
        module: &Arc<LoadedModule>,
        table: crate::host_table::HostTable,
    ) -> Result<(), String> {
        let merged = module_config::merge(
            module.name(),
            &module.manifest.config,
            config.module_overrides.get(module.name()),
            &config.file_name(),
            std::env::vars(),
        )?;
        let request = InitRequest {
            config: merged,
            data_dir: config.data_dir.display().to_string(),
            log_level: config.log_level.clone(),
        };
        let request = serde_json::to_vec(&request).map_err(|error| error.to_string())?;
        let blocking = module.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let name = blocking.name().to_owned();
            blocking.init(table.get(), &request).map_err(|error| format!("module {name}: init failed: {error}"))?;
            blocking.set_state(ModuleState::Initialised);
            blocking.start().map_err(|error| format!("module {name}: start failed: {error}"))?;
            blocking.set_state(ModuleState::Started);
            Ok(())
        })
        .await;
        outcome.map_err(|error| format!("module {}: init panicked: {error}", module.name()))?
    }

    /// Stops every started module, in reverse dependency order.
    pub async fn stop(&self) {
        for module in self.modules.iter().rev() {
            if module.state() != ModuleState::Started {
                continue;
            }
            module.set_state(ModuleState::Stopped);
            let blocking = module.clone();
            match tokio::task::spawn_blocking(move || blocking.stop()).await {
                Ok(Ok(())) => tracing::info!(module = module.name(), "Module stopped."),
                Ok(Err(error)) => {
                    tracing::warn!(module = module.name(), %error, "Module stop failed.")
                }
                Err(error) => {
                    tracing::warn!(module = module.name(), %error, "Module stop panicked.")
                }
            }
        }
    }

    /// The command bus.
    pub fn bus(&self) -> &Arc<CommandBus> {
        &self.bus
    }

    /// The event bus.
    pub fn events(&self) -> &Arc<EventBus> {
        &self.events
    }

    /// Loaded modules, dependencies first.
    pub fn modules(&self) -> &[Arc<LoadedModule>] {
        &self.modules
    }

    /// Messages for every module that was skipped.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Cancelled when someone asks the host to stop (`host:shutdown`, a signal).
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The config it runs with.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The API tokens.
    pub fn tokens(&self) -> &Arc<crate::tokens::TokenStore> {
        &self.tokens
    }

    /// Records where the HTTP API listens, for `host:status`.
    pub fn set_http_addr(&self, addr: std::net::SocketAddr) {
        let _ = self.http_addr.set(addr.to_string());
    }

    /// The manifests of the commands the host answers itself.
    pub fn builtin_manifests() -> Vec<Manifest> {
        vec![builtin_manifest(), crate::tokens::manifest()]
    }
}
