//! What `scheduler:pause` and `scheduler:resume` share: switch one task, or every task
//! of a tenant (all tenants without one), between active and paused, then audit, publish
//! and (for resume) wake the engine for each task whose status changed.
//!
//! A task already in the target status changes nothing; a completed task is a `conflict`
//! (from the store). "All" is one store transaction; the changed tasks are read back
//! after it so each gets its own event and audit row.

use std::sync::Arc;

use systemprompt_module_sdk::api::scheduler::tasks::{ChangedTasks, TaskSelection, events};
use systemprompt_module_sdk::{Call, CommandError};

use super::{common, view};
use crate::module::Scheduler;
use crate::store::TaskFilter;
use crate::task::TaskStatus;

/// Which way a task is switched.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Switch {
    Pause,
    Resume,
}

impl Switch {
    /// The status a task ends in.
    fn target(self) -> TaskStatus {
        match self {
            Switch::Pause => TaskStatus::Paused,
            Switch::Resume => TaskStatus::Active,
        }
    }

    /// The status a task is switched from in bulk.
    fn source(self) -> TaskStatus {
        match self {
            Switch::Pause => TaskStatus::Active,
            Switch::Resume => TaskStatus::Paused,
        }
    }
}

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: TaskSelection,
    call: Call<'static>,
    switch: Switch,
) -> Result<ChangedTasks, CommandError> {
    let now = module.clock.now();
    let store = &module.store;
    let changed = match &params.id {
        Some(id) => {
            let task = common::resolve(store, "id", id, params.tenant.as_deref()).await?;
            if task.status == switch.target() {
                Vec::new()
            } else {
                let changed = match switch {
                    Switch::Pause => store.pause_task(task.id, now).await,
                    Switch::Resume => store.resume_task(task.id, now).await,
                };
                vec![changed.map_err(common::store_error)?]
            }
        }
        None => {
            let filter = TaskFilter { tenant: params.tenant.clone(), status: Some(switch.source()), limit: None };
            let before = store.list_tasks(filter).await.map_err(common::store_error)?;
            if before.is_empty() {
                Vec::new()
            } else {
                let bulk = match switch {
                    Switch::Pause => store.pause_all(params.tenant.clone(), now).await,
                    Switch::Resume => store.resume_all(params.tenant.clone(), now).await,
                };
                bulk.map_err(common::store_error)?;
                common::changed_by_bulk(&module, &before, params.tenant.clone(), switch.target(), now).await?
            }
        }
    };
    let (action, event) = match switch {
        Switch::Pause => ("task.pause", events::TASK_PAUSED),
        Switch::Resume => ("task.resume", events::TASK_RESUMED),
    };
    if matches!(switch, Switch::Resume) && !changed.is_empty() {
        common::wake(&module);
    }
    for task in &changed {
        common::audit(&module, &call, action, task, &params).await;
        common::publish(&module, event, task);
    }
    tracing::info!(count = changed.len(), caller = call.caller(), ?switch, "Tasks switched.");
    Ok(ChangedTasks { tasks: changed.iter().map(view::task_view).collect() })
}
