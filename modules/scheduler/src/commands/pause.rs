//! `scheduler:pause [--id <id or name>] [--tenant T]`: stops one task, or every active task
//! (of a tenant), from firing. Returns the tasks whose status changed; each gets an audit
//! row (`task.pause`) and a `task-paused` event. Pausing a paused task changes nothing;
//! pausing a completed task is a `conflict`.
//!
//! "All" is one store transaction (`pause_all`); the changed tasks are read back after it.
//! An occurrence already claimed ahead (within `claimAhead`) still runs.

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
            if task.status == TaskStatus::Paused {
                Vec::new()
            } else {
                vec![module.store.pause_task(task.id, now).await.map_err(common::store_error)?]
            }
        }
        None => {
            let filter = TaskFilter { tenant: params.tenant.clone(), status: Some(TaskStatus::Active), limit: None };
            let before = module.store.list_tasks(filter).await.map_err(common::store_error)?;
            if before.is_empty() {
                Vec::new()
            } else {
                module.store.pause_all(params.tenant.clone(), now).await.map_err(common::store_error)?;
                common::changed_by_bulk(&module, &before, params.tenant.clone(), TaskStatus::Paused, now).await?
            }
        }
    };
    for task in &changed {
        common::audit(&module, &call, "task.pause", task, &params).await;
        common::publish(&module, events::TASK_PAUSED, task);
    }
    tracing::info!(count = changed.len(), caller = call.caller(), "Tasks paused.");
    Ok(ChangedTasks { tasks: changed.iter().map(view::task_view).collect() })
}
