//! `scheduler:cancel --execution <id>`: cancels an execution that has not ended, writing the
//! audit row `execution.cancel` (with the execution id and its status before) in the same
//! transaction as the change.
//!
//! A queued execution (a waiting retry, a queued overlap or manual run, an occurrence the
//! engine claimed ahead of its instant) is recorded `cancelled` and never runs. A running
//! one is recorded `cancelled` (never retried; its task's counters and once completion
//! follow as for any outcome), then the engine fires its call's cancellation, which the bus
//! passes to the handling module. The engine publishes the `cancelled` task-event. A run
//! held by another engine sharing the database is recorded `cancelled` too, but only that
//! engine can stop its call: it runs on, and its outcome is dropped.
//!
//! Refused: an execution that already ended (`conflict`, details: the execution), an
//! unknown id (`not_found`), a stopped engine (`unavailable`: nothing could fire the
//! cancellation of a running call).

use std::sync::Arc;

use scheduler_api::runs::{CancelParams, CancelledExecution};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{audit_note, engine, engine_error};
use super::execution_view::execution_view;
use crate::module::Scheduler;
use crate::store::CancelOutcome;
use crate::task::ExecutionId;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: CancelParams,
    call: Call<'static>,
) -> Result<CancelledExecution, CommandError> {
    let id = ExecutionId(params.execution);
    let engine = engine(&module)?;
    let note = audit_note(&module, &call, "execution.cancel", &params);
    match engine.cancel_audited(id, note).await.map_err(engine_error)? {
        CancelOutcome::Cancelled { finished, before } => {
            let execution = &finished.execution;
            tracing::info!(
                execution_id = %execution.id,
                task_id = %execution.task_id,
                was = before.as_str(),
                caller = call.caller(),
                "Execution cancelled on request."
            );
            Ok(CancelledExecution { cancelled: execution_view(execution), was: before.as_str().to_owned() })
        }
        CancelOutcome::AlreadyEnded(execution) => Err(CommandError::conflict(format!(
            "execution {} already {}; only a queued or running execution can be cancelled",
            execution.id, execution.status
        ))
        .with_details(serde_json::to_value(execution_view(&execution)).unwrap_or(serde_json::Value::Null))),
    }
}
