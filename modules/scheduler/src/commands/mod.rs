//! The `scheduler:*` command handlers: the only code that changes tasks. Each validates its
//! input, writes its audit row and publishes its event. One file per command.
//!
//! Execution commands: `run` (starts a run now; audited), `history`, `next`, `stats` and
//! `validate` (read-only). Their JSON types live in
//! `systemprompt_module_sdk::api::scheduler::runs`; `execution_view` converts the domain
//! types by hand, `support` holds task lookup and error mapping.

use systemprompt_module_sdk::Router;
use systemprompt_module_sdk::api::scheduler::runs::{NextRuns, RunTask, TaskHistory, TaskStatistics, ValidateSchedule};

use crate::module::Scheduler;

mod execution_view;
mod history;
mod next;
mod run;
mod stats;
mod support;
mod validate;

/// Every command the module owns, one line each.
pub(crate) fn routes(router: &mut Router<Scheduler>) {
    // Executions.
    router
        .spawn::<RunTask, _, _>(run::run)
        .spawn::<TaskHistory, _, _>(history::run)
        .spawn::<NextRuns, _, _>(next::run)
        .spawn::<TaskStatistics, _, _>(stats::run)
        .sync::<ValidateSchedule, _>(validate::run);
}
