//! The system module: `system:health`, `system:echo`, `system:sleep`, `system:fail`,
//! `system:panic` and `system:emit`.
//!
//! Small on purpose: it is the reference for writing a module (the template in
//! `docs/ARCHITECTURE.md`: `module.yaml`, `api/` with its typed commands, `config.rs`, one
//! file per command in `commands/`, `tests.rs`), and the fault injector that tests and
//! benchmarks use against the real host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use system_api::{Echo, Emit, Fail, Health, Panic, Sleep};
use systemprompt_module_sdk::{Host, Module, ModuleContext, ModuleError, Router};

mod commands;
mod config;
#[cfg(test)]
mod tests;

// Re-exports. Consider semver implications carefully.
pub use config::SystemConfig;

/// The module's state.
pub struct System {
    started: Instant,
    host: Host,
    sleeps_cancelled: AtomicU64,
}

impl System {
    /// How many `system:sleep` calls saw their cancellation and stopped early.
    pub fn sleeps_cancelled(&self) -> u64 {
        self.sleeps_cancelled.load(Ordering::Relaxed)
    }
}

impl Module for System {
    const NAME: &'static str = "system";
    type Config = SystemConfig;

    fn init(_config: SystemConfig, cx: ModuleContext) -> Result<Self, ModuleError> {
        Ok(System { started: Instant::now(), host: cx.host().clone(), sleeps_cancelled: AtomicU64::new(0) })
    }

    fn routes(router: &mut Router<Self>) {
        router
            .spawn::<Health, _, _>(commands::health::run)
            .sync::<Echo, _>(commands::echo::run)
            .spawn::<Sleep, _, _>(commands::sleep::run)
            .sync::<Fail, _>(commands::fail::run)
            .sync::<Panic, _>(commands::panic::run)
            .sync::<Emit, _>(commands::emit::run);
    }
}

systemprompt_module_sdk::export_module!(System);
