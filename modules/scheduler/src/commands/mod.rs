//! The `scheduler:*` command handlers: the only code that changes tasks. Each validates its
//! input, writes its audit row and publishes its event. One file per command.
//!
//! Task commands: `list`, `get`, `create`, `update`, `delete`, `pause`, `resume`. Their
//! parameter and output types live in the SDK (`api::scheduler::tasks`), so the CLI, other
//! modules and events share one JSON shape; [`view`] converts domain tasks to it.

use systemprompt_module_sdk::Router;
use systemprompt_module_sdk::api::scheduler::tasks::{
    CreateTask, DeleteTask, GetTask, ListTasks, PauseTasks, ResumeTasks, UpdateTask,
};

use crate::module::Scheduler;

mod common;
mod create;
mod delete;
mod get;
mod list;
mod pause;
mod resume;
mod update;
pub(crate) mod validate;
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
}
