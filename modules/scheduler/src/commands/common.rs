//! What every `scheduler:*` handler shares: finding a task by id or name, reading
//! instants and bounded counts from parameters, turning store, engine and schedule errors
//! into bus errors, building the (redacted, bounded) audit note a change is written with,
//! and publishing the lifecycle event.
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
use crate::store::{AuditNote, Store, StoreError};
use crate::task::{DEFAULT_TENANT, Task, TaskId, TaskKey};

/// The bus error for a store error.
pub(crate) fn store_error(error: StoreError) -> CommandError {
    match error {
        StoreError::NameTaken { .. } | StoreError::InvalidState { .. } => CommandError::conflict(error.to_string()),
        StoreError::TaskNotFound(_) | StoreError::ExecutionNotFound(_) => CommandError::not_found(error.to_string()),
        StoreError::Closed => CommandError::new(code::UNAVAILABLE, format!("scheduler store: {error}")),
        StoreError::Database(_) | StoreError::DiskFull(_) | StoreError::Io(_) => {
            CommandError::failed(format!("scheduler store: {error}"))
        }
        StoreError::Corrupt(_) | StoreError::Migration(_) | StoreError::Damaged(_) | StoreError::Unsupported(_) => {
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
/// An offset beyond ±18:00 or an instant out of range is refused with that rule.
pub(crate) fn parse_instant(field: &str, text: &str) -> Result<Timestamp, CommandError> {
    match scheduler_schedule::parse_instant(text) {
        Some(Ok(at)) => Ok(at),
        Some(Err(error)) => Err(CommandError::invalid_params(format!("{field}: {}", error.message()))),
        None => Err(CommandError::invalid_params(format!(
            "{field} must be an RFC 3339 instant with an offset, such as 2027-03-13T00:00:00Z, got '{text}'"
        ))),
    }
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
    if let Some(tenant) = tenant {
        super::rules::tenant_filter(Some(tenant))?;
    }
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

/// The audit note of a change: `actor` is the caller, `details` the parameters as given,
/// except that `data` is never recorded by value (it may hold secrets): it becomes
/// `"<redacted: N bytes>"`. Details larger than `maxAuditDetailBytes` keep only the names
/// of the parameters, with a `truncated` marker saying so. The store writes the note in the
/// change's own transaction.
pub(crate) fn audit_note(module: &Scheduler, call: &Call<'_>, action: &str, details: &impl Serialize) -> AuditNote {
    AuditNote {
        actor: call.caller().to_owned(),
        action: action.to_owned(),
        details: audit_details(details, module.config.max_audit_detail_bytes),
    }
}

/// See [`audit_note`].
pub(crate) fn audit_details(details: &impl Serialize, max_bytes: usize) -> serde_json::Value {
    let mut details = serde_json::to_value(details).unwrap_or(serde_json::Value::Null);
    if let Some(object) = details.as_object_mut() {
        object.retain(|_, value| !value.is_null());
        if let Some(data) = object.get_mut("data") {
            let bytes = data.to_string().len();
            *data = serde_json::Value::String(format!("<redacted: {bytes} bytes>"));
        }
    }
    let size = details.to_string().len();
    if size <= max_bytes {
        return details;
    }
    let fields: Vec<String> = details.as_object().map(|object| object.keys().cloned().collect()).unwrap_or_default();
    serde_json::json!({
        "truncated": format!("the details took {size} bytes, over maxAuditDetailBytes ({max_bytes}); only the field names are kept"),
        "fields": fields,
    })
}

/// The error for a store answer that does not match the change asked for (a bug).
pub(crate) fn unexpected_change() -> CommandError {
    CommandError::internal("scheduler store: the answer does not match the change asked for")
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
