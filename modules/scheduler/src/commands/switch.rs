//! What `scheduler:pause` and `scheduler:resume` share: switch one task, or every task
//! of a tenant (all tenants without one), between active and paused, then audit, publish
//! and (for resume) wake the engine for each task whose status changed.
//!
//! The store decides, inside its transaction, which tasks changed and writes an audit row
//! for each (same transaction, same instant); only those get an event and are returned. A
//! task already in the target status changes nothing (no audit row, no event), so
//! concurrent pauses of one task report one change; a completed task is a `conflict`
//! (from the store). "All" is one store transaction.

use std::sync::Arc;

use scheduler_api::tasks::{ChangedTasks, TaskSelection, events};
use systemprompt_module_sdk::{Call, CommandError};

use super::{common, view};
use crate::module::Scheduler;
use crate::store::{ChangeOutcome, TaskChange};

/// Which way a task is switched.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Switch {
    Pause,
    Resume,
}

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: TaskSelection,
    call: Call<'static>,
    switch: Switch,
) -> Result<ChangedTasks, CommandError> {
    let now = module.clock.now();
    let change = match &params.id {
        Some(id) => {
            let task = common::resolve(&module.store, "id", id, params.tenant.as_deref()).await?;
            match switch {
                Switch::Pause => TaskChange::Pause(task.id),
                Switch::Resume => TaskChange::Resume(task.id),
            }
        }
        None => match switch {
            Switch::Pause => TaskChange::PauseAll(params.tenant.clone()),
            Switch::Resume => TaskChange::ResumeAll(params.tenant.clone()),
        },
    };
    let (action, event) = match switch {
        Switch::Pause => ("task.pause", events::TASK_PAUSED),
        Switch::Resume => ("task.resume", events::TASK_RESUMED),
    };
    let note = common::audit_note(&module, &call, action, &params);
    let changed = match module.store.change_audited(change, note, now).await {
        Ok(ChangeOutcome::Switched(changed)) => changed,
        Ok(_) => return Err(common::unexpected_change()),
        Err(error) => return Err(common::store_error(error)),
    };
    if matches!(switch, Switch::Resume) && !changed.is_empty() {
        common::wake(&module);
    }
    for task in &changed {
        common::publish(&module, event, task);
    }
    tracing::info!(count = changed.len(), caller = call.caller(), ?switch, "Tasks switched.");
    Ok(ChangedTasks { tasks: changed.iter().map(view::task_view).collect() })
}
