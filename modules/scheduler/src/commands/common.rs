//! What every `scheduler:*` handler shares: finding a task by id or name, reading
//! instants and bounded counts from parameters, turning store, engine and schedule errors
//! into bus errors, writing the audit row and publishing the lifecycle event.
//!
//! Error codes: bad input is `invalid_params`, an unknown task `not_found`, a duplicate
//! name or an illegal state change `conflict`, a closed store or a stopped engine
//! `unavailable`, a database failure `failed` (transient) and a corrupt row or schema
//! `internal`.

use std::sync::Arc;

use jiff::Timestamp;
use scheduler_schedule::{ScheduleError, ScheduleErrorKind};
use serde::Serialize;
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CommandError};

use super::view;
use crate::engine::{EngineError, EngineHandle};
use crate::module::Scheduler;
use crate::store::{Store, StoreError};
use crate::task::{AuditEntry, DEFAULT_TENANT, Task, TaskId, TaskKey};

/// The bus error for a store error.
pub(crate) fn store_error(error: StoreError) -> CommandError {
    match error {
        StoreError::NameTaken { .. } | StoreError::InvalidState { .. } => CommandError::conflict(error.to_string()),
        StoreError::TaskNotFound(_) | StoreError::ExecutionNotFound(_) => CommandError::not_found(error.to_string()),
        StoreError::Closed => CommandError::new(code::UNAVAILABLE, format!("scheduler store: {error}")),
        StoreError::Database(_) | StoreError::DiskFull(_) | StoreError::Io(_) => {
            CommandError::failed(format!("scheduler store: {error}"))
        }
        StoreError::Corrupt(_) | StoreError::Migration(_) => {
            CommandError::internal(format!("scheduler store: {error}"))
        }
    }
}

/// Maps an engine error like [`store_error`].
pub(crate) fn engine_error(error: EngineError) -> CommandError {
    match error {
        EngineError::Store(error) => store_error(error),
        EngineError::ExecutionNotFound(_) => CommandError::not_found(error.to_string()),
        EngineError::Config(_) => CommandError::internal(error.to_string()),
    }
}

/// A schedule the user wrote was refused: `invalid_params` with the schedule language's
/// message, and which parameter was wrong in `details`.
pub(crate) fn schedule_error(error: &ScheduleError) -> CommandError {
    let field = if error.kind() == ScheduleErrorKind::UnknownTimeZone { "timezone" } else { "schedule" };
    CommandError::invalid_params(error.message())
        .with_details(serde_json::json!({ "field": field, "kind": error.kind().code() }))
}

/// The running engine, or `unavailable` before `start` (and after a failed one).
pub(crate) fn engine(module: &Scheduler) -> Result<EngineHandle, CommandError> {
    module.engine().cloned().ok_or_else(|| CommandError::new(code::UNAVAILABLE, "the scheduler engine is not running"))
}

/// Reads an RFC 3339 instant (`2027-03-13T00:00:00Z`, `2027-03-13T00:00:00-05:00`).
pub(crate) fn parse_instant(field: &str, text: &str) -> Result<Timestamp, CommandError> {
    text.trim().parse().map_err(|_| {
        CommandError::invalid_params(format!(
            "{field} must be an RFC 3339 instant with an offset, such as 2027-03-13T00:00:00Z, got '{text}'"
        ))
    })
}

/// Reads a count between `1` and `max`, `default` when absent.
pub(crate) fn bounded(field: &str, value: Option<i64>, default: usize, max: usize) -> Result<usize, CommandError> {
    let Some(value) = value else {
        return Ok(default);
    };
    usize::try_from(value)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| CommandError::invalid_params(format!("{field} must be between 1 and {max}, got {value}")))
}

/// The `not_found` error for a task reference.
pub(crate) fn task_not_found(id: &str, tenant: Option<&str>) -> CommandError {
    match tenant {
        Some(tenant) => CommandError::not_found(format!("task '{id}' not found in tenant '{tenant}'")),
        None => CommandError::not_found(format!("task '{id}' not found (no task has this id or name)")),
    }
}

/// Finds the task parameter `field` names by id, else by name (in `tenant`, `default`
/// when absent); `None` when no task matches. With a tenant, a task found by id must
/// belong to it.
pub(crate) async fn lookup(
    store: &Arc<dyn Store>,
    field: &str,
    text: &str,
    tenant: Option<&str>,
) -> Result<Option<Task>, CommandError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CommandError::invalid_params(format!(
            "{field} must name a task by id or name, got an empty string"
        )));
    }
    let by_id = store.get_task(TaskKey::Id(TaskId(text.to_owned()))).await.map_err(store_error)?;
    if let Some(task) = by_id.filter(|task| tenant.is_none_or(|tenant| task.tenant == tenant)) {
        return Ok(Some(task));
    }
    let key = TaskKey::Name { tenant: tenant.unwrap_or(DEFAULT_TENANT).to_owned(), name: text.to_owned() };
    store.get_task(key).await.map_err(store_error)
}

/// Like [`lookup`], but no match is `not_found`.
pub(crate) async fn resolve(
    store: &Arc<dyn Store>,
    field: &str,
    text: &str,
    tenant: Option<&str>,
) -> Result<Task, CommandError> {
    lookup(store, field, text, tenant).await?.ok_or_else(|| task_not_found(text.trim(), tenant))
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
