//! The `scheduler:*` command handlers: the only code that changes tasks. Each validates its
//! input, writes its audit row and publishes its event. One file per command.
//!
//! Task commands: `list`, `get`, `create`, `update`, `delete`, `pause`, `resume`; their
//! input rules live in `rules`, the conversion of domain tasks to the wire `TaskView` in
//! [`view`]; `common` holds task lookup, error mapping, audit and events for every handler.
//!
//! Execution commands: `run` (starts a run now; audited), `cancel` (cancels a queued or
//! running execution; audited), `history`, `next`, `stats`, `status` and `validate` (read-only); `execution_view` converts executions by hand.
//!
//! Log commands: `append-logs` (a runner writes its execution's lines) and `logs` (read or
//! follow them; `run --wait` shares its follow helpers).
//!
//! Their parameter and output types live in the scheduler's API crate (`scheduler-api`:
//! `scheduler_api::{tasks, runs}`), so the CLI, other modules and events share one JSON
//! shape without linking the scheduler.

use scheduler_api::logs::{AppendLogs, ExecutionLogs};
use scheduler_api::runs::{
    CancelExecution, NextRuns, RunTask, SchedulerStatus, TaskHistory, TaskStatistics, ValidateSchedule,
};
use scheduler_api::tasks::{CreateTask, DeleteTask, GetTask, ListTasks, PauseTasks, ResumeTasks, UpdateTask};
use systemprompt_module_sdk::Router;

use crate::module::Scheduler;

mod append_logs;
mod cancel;
mod common;
mod create;
mod delete;
mod execution_view;
mod get;
mod history;
mod list;
mod logs;
mod next;
mod pause;
mod resume;
pub(crate) mod rules;
mod run;
mod stats;
mod status;
mod switch;
mod update;
mod validate;
pub(crate) mod view;

/// Every command the module owns, one line each.
pub(crate) fn routes(router: &mut Router<Scheduler>) {
    // Tasks.
    router
        .spawn::<ListTasks, _, _>(list::run)
        .spawn::<GetTask, _, _>(get::run)
        .spawn::<CreateTask, _, _>(create::run)
        .spawn::<UpdateTask, _, _>(update::run)
        .spawn::<DeleteTask, _, _>(delete::run)
        .spawn::<PauseTasks, _, _>(pause::run)
        .spawn::<ResumeTasks, _, _>(resume::run);
    // Executions.
    router
        .spawn::<RunTask, _, _>(run::run)
        .spawn::<CancelExecution, _, _>(cancel::run)
        .spawn::<TaskHistory, _, _>(history::run)
        .spawn::<NextRuns, _, _>(next::run)
        .spawn::<TaskStatistics, _, _>(stats::run)
        .spawn::<SchedulerStatus, _, _>(status::run)
        .sync::<ValidateSchedule, _>(validate::run);
    // Execution logs.
    router.spawn::<AppendLogs, _, _>(append_logs::run).spawn::<ExecutionLogs, _, _>(logs::run);
}
