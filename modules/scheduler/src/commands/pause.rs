//! `scheduler:pause [--id <id or name>] [--tenant T]`: stops one task, or every active task
//! (of a tenant), from firing. Returns the tasks whose status changed; each gets an audit
//! row (`task.pause`) and a `task-paused` event. Pausing a paused task changes nothing;
//! pausing a completed task is a `conflict`.
//!
//! "All" is one store transaction that also writes the audit rows.
//! An occurrence already claimed ahead (within `claimAhead`) still runs.

use std::sync::Arc;

use scheduler_api::tasks::{ChangedTasks, TaskSelection};
use systemprompt_module_sdk::{Call, CommandError};

use super::rules;
use super::switch::{self, Switch};
use crate::module::Scheduler;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: TaskSelection,
    call: Call<'static>,
) -> Result<ChangedTasks, CommandError> {
    // The same tenant rule as create: `--tenant ''` names no tenant, it is not "all".
    rules::tenant_filter(params.tenant.as_deref())?;
    switch::run(module, params, call, Switch::Pause).await
}
