//! Typed execution events, handed to the [`TaskBus`] (which publishes them as
//! `task-event`) and logged with `tracing` in one place. A failed command's error text is
//! never logged (see [`TaskEvent::emit`]).
//!
//! The engine does not know the wire shape: the payload type is
//! `scheduler_api::runs::TaskExecutionEvent`, and `host_bus` converts a [`TaskEvent`] into
//! it in one function, serialised once per event.

use std::sync::Arc;

use jiff::Timestamp;

use super::bus::TaskBus;
use crate::store::{ClaimedExecution, NotedExecution};
use crate::task::{ExecutionStatus, Occurrence};

/// What happened to an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEventKind {
    /// Started.
    Executed,
    /// Ended with output.
    Completed,
    /// Ended with an error.
    Failed,
    /// Ran past its timeout.
    Timeout,
    /// A retry was queued.
    Retrying,
    /// Not run (overlap or misfire policy).
    Skipped,
    /// Its engine died or stopped.
    Interrupted,
    /// Cancelled on request.
    Cancelled,
}

impl TaskEventKind {
    /// The `event` field of the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskEventKind::Executed => "executed",
            TaskEventKind::Completed => "completed",
            TaskEventKind::Failed => "failed",
            TaskEventKind::Timeout => "timeout",
            TaskEventKind::Retrying => "retrying",
            TaskEventKind::Skipped => "skipped",
            TaskEventKind::Interrupted => "interrupted",
            TaskEventKind::Cancelled => "cancelled",
        }
    }

    /// The event for an execution that ended in `status`.
    pub fn ended(status: ExecutionStatus) -> TaskEventKind {
        match status {
            ExecutionStatus::Completed => TaskEventKind::Completed,
            ExecutionStatus::Timeout => TaskEventKind::Timeout,
            ExecutionStatus::Interrupted => TaskEventKind::Interrupted,
            ExecutionStatus::Cancelled => TaskEventKind::Cancelled,
            ExecutionStatus::Skipped => TaskEventKind::Skipped,
            _ => TaskEventKind::Failed,
        }
    }
}

/// One `task-event`.
#[derive(Debug, Clone)]
pub struct TaskEvent {
    /// What happened.
    pub kind: TaskEventKind,
    /// Which execution it happened to: shared with the claim and its call, or made once
    /// for an outcome read back from the store.
    pub occurrence: Arc<Occurrence>,
    /// When it happened: the dispatch for `executed`, the end for ended attempts (and the
    /// `retrying` that follows), the decision for `skipped`.
    pub at: Timestamp,
    /// Status after the event.
    pub status: ExecutionStatus,
    /// Run time, for ended attempts.
    pub duration_ms: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// When a queued retry becomes due.
    pub retry_at: Option<Timestamp>,
}

impl TaskEvent {
    /// The `executed` event of a claimed execution.
    pub fn executed(claim: &ClaimedExecution) -> TaskEvent {
        TaskEvent {
            kind: TaskEventKind::Executed,
            occurrence: claim.occurrence.clone(),
            // The planned start; the engine stamps the dispatch instant before emitting.
            at: claim.started_at,
            status: ExecutionStatus::Running,
            duration_ms: None,
            error: None,
            retry_at: None,
        }
    }

    /// The `skipped` event of a skipped row, decided at `at`; `None` for other noted rows.
    pub fn noted(row: &NotedExecution, at: Timestamp) -> Option<TaskEvent> {
        (row.status == ExecutionStatus::Skipped).then(|| TaskEvent {
            kind: TaskEventKind::Skipped,
            occurrence: row.occurrence.clone(),
            at,
            status: row.status,
            duration_ms: None,
            error: row.error.clone(),
            retry_at: None,
        })
    }

    /// Logs the event and publishes it on the bus.
    ///
    /// A failed command's error message comes from the command and may carry what it was
    /// given (a password in its data): the log gets its code and length only, never the
    /// text, which stays in the execution row and the event for the task's owner. The
    /// engine's own texts (skip reasons, timeouts, interruptions) are logged as they are.
    pub fn emit(&self, bus: &dyn TaskBus) {
        let error_bytes = self.error.as_deref().map_or(0, str::len);
        match self.kind {
            TaskEventKind::Executed | TaskEventKind::Completed => tracing::debug!(
                task = %self.occurrence.name, execution_id = %self.occurrence.execution_id, event = self.kind.as_str(),
                "Task execution event."
            ),
            TaskEventKind::Skipped => tracing::info!(
                task = %self.occurrence.name, execution_id = %self.occurrence.execution_id, event = self.kind.as_str(),
                error = self.error.as_deref().unwrap_or(""), "Task execution event."
            ),
            TaskEventKind::Retrying => tracing::info!(
                task = %self.occurrence.name, execution_id = %self.occurrence.execution_id, event = self.kind.as_str(),
                retry_at = %self.retry_at.map(|at| at.to_string()).unwrap_or_default(), "Task execution event."
            ),
            TaskEventKind::Failed => tracing::warn!(
                task = %self.occurrence.name, execution_id = %self.occurrence.execution_id, event = self.kind.as_str(),
                error_code = error_code(self.error.as_deref()), error_bytes,
                "Task execution did not complete (the error text is in the execution row)."
            ),
            _ => tracing::warn!(
                task = %self.occurrence.name, execution_id = %self.occurrence.execution_id, event = self.kind.as_str(),
                error = self.error.as_deref().unwrap_or(""), "Task execution did not complete."
            ),
        }
        bus.publish(self);
    }
}

/// The code of a failed command's error (`code: message`, as [`super::DispatchError`]
/// formats it; `unknown command '…'` for an unknown one), safe to log: codes are
/// identifiers, never user text.
fn error_code(error: Option<&str>) -> &str {
    let Some(error) = error else {
        return "";
    };
    if error.starts_with("unknown command") {
        return "unknown_command";
    }
    match error.split_once(": ") {
        Some((code, _)) if !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => code,
        _ => "failed",
    }
}
