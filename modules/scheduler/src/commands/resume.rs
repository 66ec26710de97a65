//! `scheduler:resume [--id <id or name>] [--tenant T]`: lets one paused task, or every
//! paused task (of a tenant), fire again. Returns the tasks whose status changed; each gets
//! an audit row (`task.resume`) and a `task-resumed` event, and the engine is woken.
//!
//! The next run is the schedule's first occurrence after now (an interval keeps its
//! phase): occurrences missed while paused are not replayed. A once task whose instant
//! passed while paused runs once, following its misfire policy, unless that occurrence
//! already ran. Resuming an active task changes nothing; resuming a
//! completed once task is a `conflict` (update its schedule instead).

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
    switch::run(module, params, call, Switch::Resume).await
}
