//! `scheduler:delete --id <id or name> --confirm`: deletes a task with its audit row
//! (`task.delete`, one transaction) and publishes `task-deleted` with the task's last view.
//!
//! Without `confirm: true` it refuses (`invalid_params`) and deletes nothing: the CLI asks
//! on a terminal (`confirm: confirm` in module.yaml), and a module calling through the bus
//! must say so too.
//!
//! What stays: the task's finished executions remain readable in the history until
//! retention cleanup (`historyRetentionDays`) removes them. What stops: its queued
//! executions are marked `cancelled` in the delete's transaction; then the engine cancels
//! what it holds of the task (a running execution, whose command's cancellation fires, and
//! an occurrence claimed ahead of its instant, which never dispatches): those are recorded
//! `cancelled` (not retried) as they end, under the `task.delete` audit row.

use std::sync::Arc;

use scheduler_api::tasks::{DeleteTaskParams, DeletedTask, events};
use systemprompt_module_sdk::{Call, CommandError};

use super::{common, view};
use crate::module::Scheduler;
use crate::store::{ChangeOutcome, TaskChange};

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: DeleteTaskParams,
    call: Call<'static>,
) -> Result<DeletedTask, CommandError> {
    if !params.confirm {
        return Err(CommandError::invalid_params(format!(
            "deleting task '{}' needs confirm: true (--confirm); nothing was deleted",
            params.id
        )));
    }
    let task = common::resolve(&module.store, "id", &params.id, params.tenant.as_deref()).await?;
    let note = common::audit_note(&module, &call, "task.delete", &params);
    let task = match module.store.change_audited(TaskChange::Delete(task.id), note, module.clock.now()).await {
        Ok(ChangeOutcome::Deleted(Some(task))) => *task,
        Ok(ChangeOutcome::Deleted(None)) => return Err(common::task_not_found(&params.id, params.tenant.as_deref())),
        Ok(_) => return Err(common::unexpected_change()),
        Err(error) => return Err(common::store_error(error)),
    };
    // A deleted task's runs stop: the engine fires what it holds (nothing when stopped).
    let cancelled = module.engine().map_or(0, |engine| engine.cancel_task(&task.id));
    common::publish(&module, events::TASK_DELETED, &task);
    tracing::info!(task_id = %task.id, name = %task.name, cancelled, caller = call.caller(), "Task deleted.");
    Ok(DeletedTask { deleted: view::task_view(&task) })
}
