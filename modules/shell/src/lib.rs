//! The shell runner module: `shell:run` executes a task's program and `shell:check-task`
//! vets a task's data before the scheduler writes it. See `README.md` for the data fields,
//! the config and the security rules.
//!
//! What it guarantees:
//! - a program runs with its argv directly (`tokio::process::Command`), never through a
//!   shell; a `script` runs through `/bin/sh -c` only when `allowScripts` is true;
//! - the program, resolved to an absolute path on the child's `PATH`, passes
//!   `deniedPrograms` then `allowedPrograms`, at create time and again at run time;
//! - the child's environment is built from nothing (`env_clear`): `PATH`, `HOME`, `LANG`,
//!   `TZ`, the task's `env`, the occurrence's `SYSTEMPROMPT_*` variables and the run's
//!   marker `SYSTEMPROMPT_RUN_ID`; the host's secrets never reach it;
//! - the job is its own process group; cancellation (deadline, `scheduler:cancel`) sends
//!   SIGTERM to the group, SIGKILL after `killGrace`, and the call answers only once
//!   `/proc` shows no process of the group;
//! - its output reaches the execution's log in batches, capped by `maxOutputBytes`, with
//!   memory bounded whatever the job prints, and the last batch is sent before the reply.
//!
//! Orphans after a host crash: each run is begun, given its pgid and ended in a private
//! journal, `<data dir>/shell/running/journal`. [`Module::start`] kills (SIGKILL) the
//! processes of every run begun and not ended whose `/proc/<pid>/environ` carries its
//! `SYSTEMPROMPT_RUN_ID`, so a pgid reused by someone else is never touched, then rewrites
//! the journal (`records.rs`).

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use shell_api::{CheckTask, Run};
use systemprompt_module_sdk::{Host, Module, ModuleContext, ModuleError, Router};

mod commands;
mod config;
mod group;
mod output;
mod records;
#[cfg(test)]
mod tests;

// Re-exports. Consider semver implications carefully.
pub use config::ShellConfig;

/// The module's state.
pub struct Shell {
    config: ShellConfig,
    host: Host,
    // Invariant: exists, private (0700), created by `init`.
    work_dir: PathBuf,
    records: records::Records,
}

impl Module for Shell {
    const NAME: &'static str = "shell";
    type Config = ShellConfig;

    fn init(config: ShellConfig, cx: ModuleContext) -> Result<Self, ModuleError> {
        let work_dir = commands::run::work_dir(cx.data_dir());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&work_dir)
            .map_err(|error| ModuleError::new(format!("shell: cannot create {}: {error}", work_dir.display())))?;
        let running = cx.data_dir().join("shell").join("running");
        let records = records::Records::open(running.clone())
            .map_err(|error| ModuleError::new(format!("shell: cannot create {}: {error}", running.display())))?;
        Ok(Shell { config, host: cx.host().clone(), work_dir, records })
    }

    fn routes(router: &mut Router<Self>) {
        router.spawn::<Run, _, _>(commands::run::run).spawn::<CheckTask, _, _>(commands::check_task::run);
    }

    fn start(self: &Arc<Self>) -> Result<(), ModuleError> {
        let killed = self.records.reap_orphans();
        if killed > 0 {
            tracing::warn!(killed, "Killed processes of jobs a previous host left running.");
        }
        Ok(())
    }
}

systemprompt_module_sdk::export_module!(Shell);
