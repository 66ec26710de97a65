//! What every task command shares: finding a task by id or name, mapping store errors to
//! bus error codes, writing the audit row and publishing the lifecycle event.
//!
//! Error codes: bad input is `invalid_params`, an unknown task `not_found`, a duplicate
//! name or an illegal state change `conflict`, a store failure `failed` (transient) or
//! `internal` (a corrupt row or schema).

use serde::Serialize;
use systemprompt_module_sdk::{Call, CommandError};

use super::view;
use crate::module::Scheduler;
use crate::store::StoreError;
use crate::task::{AuditEntry, DEFAULT_TENANT, Task, TaskId, TaskKey};

/// The bus error for a store error.
pub(crate) fn store_error(error: StoreError) -> CommandError {
    match error {
        StoreError::NameTaken { .. } | StoreError::InvalidState { .. } => CommandError::conflict(error.to_string()),
        StoreError::TaskNotFound(_) | StoreError::ExecutionNotFound(_) => CommandError::not_found(error.to_string()),
        StoreError::Database(_) | StoreError::Closed => CommandError::failed(format!("scheduler store: {error}")),
        StoreError::Corrupt(_) | StoreError::Migration(_) => {
            CommandError::internal(format!("scheduler store: {error}"))
        }
    }
}

/// The `not_found` error for a task reference.
pub(crate) fn task_not_found(id: &str, tenant: Option<&str>) -> CommandError {
    match tenant {
        Some(tenant) => CommandError::not_found(format!("task '{id}' not found in tenant '{tenant}'")),
        None => CommandError::not_found(format!("task '{id}' not found (no task has this id or name)")),
    }
}

/// Finds a task by id, else by name (in `tenant`, `default` when absent). With a tenant,
/// a task found by id must belong to it.
pub(crate) async fn resolve(module: &Scheduler, id: &str, tenant: Option<&str>) -> Result<Task, CommandError> {
    if id.is_empty() {
        return Err(CommandError::invalid_params("id must not be empty: give a task id or name"));
    }
    let by_id = module.store.get_task(TaskKey::Id(TaskId(id.to_owned()))).await.map_err(store_error)?;
    if let Some(task) = by_id.filter(|task| tenant.is_none_or(|tenant| task.tenant == tenant)) {
        return Ok(task);
    }
    let key = TaskKey::Name { tenant: tenant.unwrap_or(DEFAULT_TENANT).to_owned(), name: id.to_owned() };
    module.store.get_task(key).await.map_err(store_error)?.ok_or_else(|| task_not_found(id, tenant))
}

/// Writes an audit row: `actor` is the caller, `details` the parameters as given. A failed
/// audit write is logged, not returned: the change itself is already committed.
pub(crate) async fn audit(module: &Scheduler, call: &Call<'_>, action: &str, task: &Task, details: &impl Serialize) {
    let entry = AuditEntry {
        at: module.clock.now(),
        actor: call.caller().to_owned(),
        action: action.to_owned(),
        task_id: Some(task.id.clone()),
        details: serde_json::to_value(details).unwrap_or(serde_json::Value::Null),
    };
    if let Err(error) = module.store.append_audit(entry).await {
        tracing::warn!(task_id = %task.id, action, %error, "Audit row not written.");
    }
}

/// Publishes lifecycle event `name` about `task`.
pub(crate) fn publish(module: &Scheduler, name: &str, task: &Task) {
    module.host.publish(name, &view::lifecycle_event(task));
}

/// Wakes the engine (when it runs), so a task due before the next tick fires on time.
pub(crate) fn wake(module: &Scheduler) {
    if let Some(engine) = module.engine() {
        engine.wake();
    }
}

/// The tasks a bulk status change (`pause_all`, `resume_all` at `now`) changed: those of
/// `before` (the tasks it could change) that now have status `status` and were written at
/// `now`. The store changes them in one transaction and reports only a count; this reads
/// them back so each gets its event and audit row.
pub(crate) async fn changed_by_bulk(
    module: &Scheduler,
    before: &[Task],
    tenant: Option<String>,
    status: crate::task::TaskStatus,
    now: jiff::Timestamp,
) -> Result<Vec<Task>, CommandError> {
    let candidates: std::collections::HashSet<&TaskId> = before.iter().map(|task| &task.id).collect();
    let filter = crate::store::TaskFilter { tenant, status: Some(status), limit: None };
    let after = module.store.list_tasks(filter).await.map_err(store_error)?;
    Ok(after
        .into_iter()
        .filter(|task| candidates.contains(&task.id) && task.updated_at.as_millisecond() == now.as_millisecond())
        .collect())
}
