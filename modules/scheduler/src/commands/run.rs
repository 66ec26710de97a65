//! `scheduler:run --id <task> [--wait]`: starts an execution of a task now (trigger
//! `manual`), following the task's overlap policy, and writes the audit row `run` (who
//! asked, the execution id and its status) in the same transaction as the execution row.
//! The store answers with the row it wrote; nothing reads it back.
//!
//! Without `--wait` it answers as soon as the run is queued (the engine starts it within
//! milliseconds). With `--wait` it waits for the run to end, following its retries, and
//! answers with the last attempt; a run that did not complete is an error `failed` (so the
//! CLI exits 1) whose `details` is that execution. Waiting stops when the call is
//! cancelled (its deadline, 24 hours by default, see `module.yaml`); the run goes on.
//!
//! A paused task's manual run runs too (an explicit request; the task stays paused): it
//! never waits for a resume.
//!
//! It never runs the command itself: the engine does, so a manual run gets the same
//! timeout, retries, events and history as a scheduled one.

use std::sync::Arc;

use scheduler_api::runs::{RunOutput, RunParams, RunStarted};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{audit_note, engine, engine_error, resolve};
use super::execution_view::execution_view;
use crate::module::Scheduler;
use crate::task::{Execution, ExecutionStatus, Task};

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: RunParams,
    call: Call<'static>,
) -> Result<RunOutput, CommandError> {
    let task = resolve(&module.store, "id", &params.id, None).await?;
    let engine = engine(&module)?;
    let note = audit_note(&module, &call, "run", &serde_json::json!({ "wait": params.wait }));
    let execution = engine.run_now_audited(task.id.clone(), note).await.map_err(engine_error)?;
    let execution_id = execution.id;
    if execution.status == ExecutionStatus::Skipped {
        return Err(refused(&task, &execution));
    }
    if !params.wait {
        return Ok(RunOutput::Started(RunStarted {
            execution_id: execution_id.0,
            task_id: task.id.to_string(),
            name: task.name,
        }));
    }
    let last = tokio::select! {
        last = engine.await_run(execution_id) => last.map_err(engine_error)?,
        () = call.cancelled() => {
            return Err(CommandError::new(
                code::CANCELLED,
                format!("stopped waiting for execution {execution_id} of task '{}'; the run goes on", task.name),
            ));
        }
    };
    if last.status == ExecutionStatus::Completed {
        Ok(RunOutput::Finished(Box::new(execution_view(&last))))
    } else {
        Err(did_not_complete(&task, &last))
    }
}

fn details(execution: &Execution) -> serde_json::Value {
    serde_json::to_value(execution_view(execution)).unwrap_or(serde_json::Value::Null)
}

/// The overlap policy recorded the run as skipped.
fn refused(task: &Task, execution: &Execution) -> CommandError {
    CommandError::conflict(format!(
        "task '{}' was not run: {} (execution {} recorded as skipped)",
        task.name,
        execution.error.as_deref().unwrap_or("its overlap policy skipped it"),
        execution.id
    ))
    .with_details(details(execution))
}

/// The last attempt failed, timed out, was interrupted or cancelled.
fn did_not_complete(task: &Task, last: &Execution) -> CommandError {
    CommandError::failed(format!(
        "execution {} of task '{}' ended {} (attempt {}): {}",
        last.id,
        task.name,
        last.status,
        last.attempt,
        last.error.as_deref().unwrap_or("no error was recorded")
    ))
    .with_details(details(last))
}
