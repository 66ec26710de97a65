//! The engine's [`TaskBus`] over the host's command bus: the one place where the engine
//! meets the rest of the system.
//!
//! Every execution is a call on the bus with the task's data (the JSON text the store
//! produced, sent without re-encoding), its timeout as the call's
//! deadline, the execution id as the correlation id, and the engine's cancellation token
//! wired through to the handler (so a timed-out attempt is cancelled before its retry).
//!
//! It is also the one place where an engine [`TaskEvent`] becomes its wire type,
//! [`TaskExecutionEvent`] ([`task_execution_event`]); the fake bus of the tests records
//! the same conversion.

use scheduler_api::runs::{TASK_EVENT, TaskExecutionEvent};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{CallOptions, Host, Occurrence as CallOccurrence};

use crate::engine::{BoxFuture, DispatchError, TaskBus, TaskCall, TaskEvent};
use crate::task::Occurrence;

/// Dispatches executions on the host's bus and publishes the engine's events there.
pub(crate) struct HostBus {
    host: Host,
}

impl HostBus {
    pub(crate) fn new(host: Host) -> HostBus {
        HostBus { host }
    }
}

impl TaskBus for HostBus {
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>> {
        let options = CallOptions {
            timeout: Some(call.timeout),
            correlation_id: Some(call.occurrence.execution_id.to_string()),
            cancel: Some(call.cancel.clone()),
            occurrence: Some(call_occurrence(&call.occurrence).to_json_bytes()),
        };
        // The call starts now, so every call of an instant goes out before any is awaited.
        let pending = self.host.dispatch_bytes(&call.command, call.data.get().as_bytes(), &options);
        Box::pin(async move {
            match pending.await {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                    DispatchError::failed(code::INTERNAL, format!("{} returned malformed JSON: {error}", call.command))
                }),
                Err(error) if error.is(code::UNKNOWN_COMMAND) => {
                    Err(DispatchError::UnknownCommand { command: call.command, message: error.message })
                }
                Err(error) if error.is(code::TIMEOUT) => Err(DispatchError::Timeout { after: call.timeout }),
                Err(error) if error.is(code::CANCELLED) => Err(DispatchError::Cancelled),
                Err(error) => Err(DispatchError::Failed {
                    code: error.code,
                    message: error.message,
                    details: error.details,
                    retry: error.retry,
                }),
            }
        })
    }

    fn publish(&self, event: &TaskEvent) {
        self.host.publish(TASK_EVENT, &task_execution_event(event));
    }
}

/// The occurrence as the called command sees it (`Call::occurrence`), with its idempotency
/// key `<task id>:<scheduled for>`.
pub(crate) fn call_occurrence(occurrence: &Occurrence) -> CallOccurrence {
    let task_id = occurrence.task_id.to_string();
    let scheduled_for = occurrence.scheduled_for.to_string();
    CallOccurrence {
        idempotency_key: CallOccurrence::key_of(&task_id, &scheduled_for),
        task_id,
        task_name: occurrence.name.clone(),
        tenant: occurrence.tenant.clone(),
        execution_id: occurrence.execution_id.0,
        scheduled_for,
        attempt: occurrence.attempt,
        trigger: occurrence.trigger.as_str().to_owned(),
    }
}

/// The `task-event` payload of an engine event, field by field.
pub(crate) fn task_execution_event(event: &TaskEvent) -> TaskExecutionEvent {
    let occurrence = &event.occurrence;
    let task_id = occurrence.task_id.to_string();
    let scheduled_for = occurrence.scheduled_for.to_string();
    TaskExecutionEvent {
        event: event.kind.as_str().to_owned(),
        idempotency_key: CallOccurrence::key_of(&task_id, &scheduled_for),
        task_id,
        name: occurrence.name.clone(),
        tenant: occurrence.tenant.clone(),
        execution_id: occurrence.execution_id.0,
        scheduled_for,
        at: event.at.to_string(),
        attempt: occurrence.attempt,
        trigger: occurrence.trigger.as_str().to_owned(),
        status: event.status.as_str().to_owned(),
        duration_ms: event.duration_ms,
        error: event.error.clone(),
        retry_at: event.retry_at.map(|at| at.to_string()),
    }
}
