//! What the `scheduler:*` handlers share: finding a task by id or name, reading instants
//! and bounded counts from parameters, and turning store, engine and schedule errors into
//! [`CommandError`]s with stable codes.
//!
//! Nothing here writes: handlers decide what to change and what to audit.

use std::sync::Arc;

use jiff::Timestamp;
use scheduler_schedule::{ScheduleError, ScheduleErrorKind};
use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::error::code;

use crate::engine::{EngineError, EngineHandle};
use crate::module::Scheduler;
use crate::store::{Store, StoreError};
use crate::task::{DEFAULT_TENANT, Task, TaskId, TaskKey};

/// Maps a store error to its stable code: missing objects are `not_found`, state conflicts
/// `conflict`, a closed store `unavailable`, the rest `internal`.
pub(crate) fn store_error(error: StoreError) -> CommandError {
    let message = error.to_string();
    match error {
        StoreError::TaskNotFound(_) | StoreError::ExecutionNotFound(_) => CommandError::not_found(message),
        StoreError::NameTaken { .. } | StoreError::InvalidState { .. } => CommandError::conflict(message),
        StoreError::Closed => CommandError::new(code::UNAVAILABLE, message),
        StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Migration(_) => CommandError::internal(message),
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

/// Finds a task by id, then by name in the default tenant. `field` names the parameter in
/// messages.
pub(crate) async fn find_task(store: &Arc<dyn Store>, field: &str, text: &str) -> Result<Task, CommandError> {
    match lookup_task(store, field, text).await? {
        Some(task) => Ok(task),
        None => Err(CommandError::not_found(format!("task '{}' not found (by id or by name)", text.trim()))),
    }
}

/// Like [`find_task`], but a task that does not exist is `None`.
pub(crate) async fn lookup_task(store: &Arc<dyn Store>, field: &str, text: &str) -> Result<Option<Task>, CommandError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CommandError::invalid_params(format!(
            "{field} must name a task by id or name, got an empty string"
        )));
    }
    if let Some(task) = store.get_task(TaskKey::Id(TaskId(text.to_owned()))).await.map_err(store_error)? {
        return Ok(Some(task));
    }
    let key = TaskKey::Name { tenant: DEFAULT_TENANT.to_owned(), name: text.to_owned() };
    store.get_task(key).await.map_err(store_error)
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
