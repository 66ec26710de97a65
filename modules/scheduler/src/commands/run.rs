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
//! With `--wait` from the CLI (`pages` set: the follow protocol, see
//! `scheduler_api::logs::Page`) it answers in pages instead: the first says at once which
//! execution started (a `system` line with its id and attempt); the next ones carry the
//! attempt's log lines as they arrive (each call waits at most `logs::PAGE_WAIT` for news),
//! then a `system` line when a retry follows, whose lines come next; the last page carries
//! the last attempt as `result` when it completed, and a run that did not complete ends
//! with the same `failed` error as without pages. Callers that do not set `pages` (modules
//! through the typed API) get the single answer above.
//!
//! It never runs the command itself: the engine does, so a manual run gets the same
//! timeout, retries, events and history as a scheduled one.

use std::sync::Arc;

use scheduler_api::runs::{RunOutput, RunParams, RunStarted};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CommandError};

use scheduler_api::runs::RunPage;

use super::common::{audit_note, engine, engine_error, resolve, store_error};
use super::execution_view::execution_view;
use super::logs::{empty_page, has_ended, read, system_line, wait_for_news};
use crate::module::Scheduler;
use crate::store::LogQuery;
use crate::task::{Execution, ExecutionId, ExecutionStatus, Task};

/// Most lines per page of a followed run.
const PAGE_LINES: usize = 10_000;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: RunParams,
    call: Call<'static>,
) -> Result<RunOutput, CommandError> {
    if params.wait
        && params.pages
        && let Some(id) = params.execution
    {
        return follow(&module, &params, ExecutionId(id), &call).await.map(|page| RunOutput::Page(Box::new(page)));
    }
    let task = resolve(&module.store, "id", &params.id, None).await?;
    let engine = engine(&module)?;
    let note = audit_note(&module, &call, "run", &serde_json::json!({ "wait": params.wait }));
    let execution = engine.run_now_audited(task.id.clone(), note).await.map_err(engine_error)?;
    let execution_id = execution.id;
    if execution.status == ExecutionStatus::Skipped {
        return Err(refused(&task, &execution));
    }
    if params.wait && params.pages {
        let line = format!("execution {execution_id} of task '{}' started (attempt {})", task.name, execution.attempt);
        let next = RunParams { execution: Some(execution_id.0), after: None, ..params };
        let mut page = empty_page(next, interrupted(execution_id));
        page.items.push(system_line(module.clock.now(), execution_id, line));
        return Ok(RunOutput::Page(Box::new(page)));
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

/// One page of a followed run, at attempt `id`, after the cursor `params.after`.
async fn follow(
    module: &Scheduler,
    params: &RunParams,
    id: ExecutionId,
    call: &Call<'_>,
) -> Result<RunPage, CommandError> {
    let query = LogQuery { execution_id: id, after: params.after, stream: None, tail: None, limit: PAGE_LINES };
    let with_lines = |lines: Vec<scheduler_api::logs::LogLineView>| {
        let after = lines.last().map(|line| line.id).or(params.after);
        let mut page = empty_page(RunParams { after, ..params.clone() }, interrupted(id));
        page.items = lines;
        page
    };
    // Subscribe before reading: a batch written after the read wakes the wait.
    let watch = module.watch_logs();
    let lines = read(module, query.clone()).await?;
    if !lines.is_empty() {
        return Ok(with_lines(lines));
    }
    if !has_ended(module, id).await? {
        wait_for_news(module, id, watch, call).await;
        return Ok(with_lines(read(module, query).await?));
    }
    // Ended: lines that landed between the read and the status are the last ones.
    let lines = read(module, query).await?;
    if !lines.is_empty() {
        return Ok(with_lines(lines));
    }
    let execution = module
        .store
        .get_execution(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| CommandError::not_found(format!("execution {id} not found")))?;
    if execution.status.is_failure()
        && let Some(retry) = module.store.next_attempt(id).await.map_err(store_error)?
    {
        let line = format!(
            "attempt {} ended {}: {}; attempt {} follows as execution {}",
            execution.attempt,
            execution.status,
            execution.error.as_deref().unwrap_or("no error was recorded"),
            retry.attempt,
            retry.id
        );
        let next = RunParams { execution: Some(retry.id.0), after: None, ..params.clone() };
        let mut page = empty_page(next, interrupted(retry.id));
        page.items.push(system_line(module.clock.now(), retry.id, line));
        return Ok(page);
    }
    if execution.status == ExecutionStatus::Completed {
        let result = serde_json::to_value(execution_view(&execution))
            .map_err(|error| CommandError::internal(error.to_string()))?;
        return Ok(RunPage { items: Vec::new(), next: None, result: Some(result), on_interrupt: None });
    }
    Err(did_not_complete_named(&execution.task_name, &execution))
}

/// What the CLI says when the user stops following.
fn interrupted(id: ExecutionId) -> String {
    format!("execution {id} goes on; see it with `systemprompt scheduler:logs --execution {id} --follow`")
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
    did_not_complete_named(&task.name, last)
}

fn did_not_complete_named(name: &str, last: &Execution) -> CommandError {
    CommandError::failed(format!(
        "execution {} of task '{}' ended {} (attempt {}): {}",
        last.id,
        name,
        last.status,
        last.attempt,
        last.error.as_deref().unwrap_or("no error was recorded")
    ))
    .with_details(details(last))
}
