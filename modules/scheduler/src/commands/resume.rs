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

use systemprompt_module_sdk::api::scheduler::tasks::{ChangedTasks, TaskSelection, events};
use systemprompt_module_sdk::{Call, CommandError};

use super::{common, view};
use crate::module::Scheduler;
use crate::store::TaskFilter;
use crate::task::TaskStatus;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: TaskSelection,
    call: Call<'static>,
) -> Result<ChangedTasks, CommandError> {
    let now = module.clock.now();
    let changed = match &params.id {
        Some(id) => {
            let task = common::resolve(&module.store, "id", id, params.tenant.as_deref()).await?;
            if task.status == TaskStatus::Active {
                Vec::new()
            } else {
                vec![module.store.resume_task(task.id, now).await.map_err(common::store_error)?]
            }
        }
        None => {
            let filter = TaskFilter { tenant: params.tenant.clone(), status: Some(TaskStatus::Paused), limit: None };
            let before = module.store.list_tasks(filter).await.map_err(common::store_error)?;
            if before.is_empty() {
                Vec::new()
            } else {
                module.store.resume_all(params.tenant.clone(), now).await.map_err(common::store_error)?;
                common::changed_by_bulk(&module, &before, params.tenant.clone(), TaskStatus::Active, now).await?
            }
        }
    };
    if !changed.is_empty() {
        common::wake(&module);
    }
    for task in &changed {
        common::audit(&module, &call, "task.resume", task, &params).await;
        common::publish(&module, events::TASK_RESUMED, task);
    }
    tracing::info!(count = changed.len(), caller = call.caller(), "Tasks resumed.");
    Ok(ChangedTasks { tasks: changed.iter().map(view::task_view).collect() })
}
