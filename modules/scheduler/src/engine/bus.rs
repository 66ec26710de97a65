//! The seam between the engine and the host's command bus.
//!
//! The engine never calls the host directly: it dispatches each execution as a [`TaskCall`]
//! on a [`TaskBus`] and publishes its events there. The lead wires [`TaskBus`] to the real
//! bus; tests use `testing::FakeBus`.
//!
//! The engine enforces the task's timeout itself as well (a bus that ignores `timeout`
//! still cannot hold a slot past it) and fires `cancel` when it abandons a call: on timeout,
//! on a user cancel and when a stop runs out of grace.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use systemprompt_module_sdk::RetryHint;

use super::events::TaskEvent;
use crate::task::Occurrence;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the engine needs from the command bus.
pub trait TaskBus: Send + Sync + 'static {
    /// Dispatches `call.command` with `call.data`; resolves with the command's JSON output
    /// or an error, at the latest at `call.timeout` (the real bus enforces the deadline and
    /// cancels the handler). `call.cancel` is fired by the engine to abandon the call.
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>>;

    /// Publishes an execution event (as `task-event`). Must not block.
    fn publish(&self, event: &TaskEvent);
}

/// One command dispatch for one execution.
#[derive(Debug, Clone)]
pub struct TaskCall {
    /// The bus command, e.g. `system:health`.
    pub command: String,
    /// The task's payload: JSON text from the store, sent as it is.
    pub data: Arc<RawValue>,
    /// The time limit of this attempt.
    pub timeout: Duration,
    /// Fired when the engine abandons the call.
    pub cancel: CancellationToken,
    /// The execution this call runs (its id is the call's correlation id), shared with the
    /// claim and the events.
    pub occurrence: Arc<Occurrence>,
}

/// Why a dispatch did not return output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// No module owns the command. Permanent: the engine does not retry it.
    #[error("unknown command '{command}': {message}")]
    UnknownCommand {
        /// The command.
        command: String,
        /// The bus's explanation.
        message: String,
    },
    /// The deadline passed. Transient: retried per the task's policy.
    #[error("timed out after {} ms", after.as_millis())]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The call was cancelled (by the engine, or by the host shutting down).
    #[error("cancelled")]
    Cancelled,
    /// The handler failed. Retried per the task's policy unless `retry` (the handler's word)
    /// or a permanent `code` says otherwise.
    #[error("{code}: {message}")]
    Failed {
        /// A stable error code from the handler.
        code: String,
        /// What went wrong.
        message: String,
        /// The handler's machine-readable context (a runner's exit code, an HTTP status),
        /// kept as the execution's output.
        details: Option<serde_json::Value>,
        /// The handler's advice on retrying.
        retry: Option<RetryHint>,
    },
}

impl DispatchError {
    /// A handler failure with no details and no retry advice.
    pub fn failed(code: impl Into<String>, message: impl Into<String>) -> DispatchError {
        DispatchError::Failed { code: code.into(), message: message.into(), details: None, retry: None }
    }
}
