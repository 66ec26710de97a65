//! `scheduler:logs --execution ID | --task NAME --last [--stream S] [--tail N] [--follow]`:
//! an execution's log lines, oldest first. Read-only: no audit row.
//!
//! `--task NAME --last` picks the task's newest execution row: with retries, the latest
//! attempt (what a user asking "what did it print last" means).
//!
//! Following (the CLI's follow protocol: `pages` set, see `scheduler_api::logs::Page`):
//! each call answers the lines after its cursor `after`. When there are none yet and the
//! execution has not ended, it waits for a wake-up (a log batch appended, the execution's
//! end) for at most [`PAGE_WAIT`], so a follower costs one read per batch or per second,
//! never a tight loop. The follow ends (no `next`) once the execution has ended and every
//! line was returned: a runner appends its lines before it replies, so a line read after
//! the end was seen is the last.
//!
//! The wait and the line conversion are shared with `scheduler:run --wait` (`run.rs`).

use std::sync::Arc;
use std::time::Duration;

use scheduler_api::logs::{ExecutionLogsParams, LogLineView, LogPage, LogStream, LogsOutput, Page};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{bounded, resolve, store_error};
use super::execution_view::instant;
use crate::module::Scheduler;
use crate::store::{HistoryQuery, LogQuery};
use crate::task::{Execution, ExecutionId, LogLine};

/// The longest a page waits for something new before answering empty.
pub(crate) const PAGE_WAIT: Duration = Duration::from_secs(1);

/// The default and the largest number of lines per answer (and the largest tail).
const MAX_LINES: usize = 10_000;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: ExecutionLogsParams,
    call: Call<'static>,
) -> Result<LogsOutput, CommandError> {
    let limit = bounded("limit", params.limit, MAX_LINES, MAX_LINES)?;
    let tail = params.tail.map(|tail| bounded("tail", Some(tail), MAX_LINES, MAX_LINES)).transpose()?;
    let execution = target(&module, &params).await?;
    let id = execution.id;
    let query = LogQuery { execution_id: id, after: params.after, stream: params.stream, tail, limit };
    if !params.pages {
        let lines = read(&module, query).await?;
        return Ok(LogsOutput::Lines(lines));
    }
    // Subscribe before reading: a batch written after the read wakes the wait below.
    let watch = module.watch_logs();
    let mut lines = read(&module, query.clone()).await?;
    let mut ended = false;
    if lines.is_empty() && params.follow {
        ended = has_ended(&module, id).await?;
        if !ended {
            wait_for_news(&module, id, watch, &call).await;
        }
        lines = read(&module, query).await?;
    }
    let next = (params.follow && !(ended && lines.is_empty())).then(|| ExecutionLogsParams {
        execution: Some(id.0),
        task: None,
        tenant: None,
        last: false,
        tail: None,
        after: lines.last().map(|line| line.id).or(params.after),
        ..params.clone()
    });
    Ok(LogsOutput::Page(Box::new(LogPage {
        items: lines,
        next,
        result: None,
        on_interrupt: Some(format!(
            "execution {id} goes on; see its log with `systemprompt scheduler:logs --execution {id} --follow`"
        )),
    })))
}

/// The execution the parameters name.
async fn target(module: &Scheduler, params: &ExecutionLogsParams) -> Result<Execution, CommandError> {
    match (params.execution, params.task.as_deref()) {
        (Some(id), None) => module
            .store
            .get_execution(ExecutionId(id))
            .await
            .map_err(store_error)?
            .ok_or_else(|| CommandError::not_found(format!("execution {id} not found"))),
        (None, Some(task)) if params.last => {
            let task = resolve(&module.store, "task", task, params.tenant.as_deref()).await?;
            let query = HistoryQuery { task_id: Some(task.id.clone()), limit: Some(1), ..HistoryQuery::default() };
            let newest = module.store.history(query).await.map_err(store_error)?;
            newest.into_iter().next().ok_or_else(|| {
                CommandError::not_found(format!(
                    "task '{}' has no executions yet (start one with scheduler:run)",
                    task.name
                ))
            })
        }
        (None, Some(_)) => Err(CommandError::invalid_params(
            "--task needs --last (its latest execution); or name the execution with --execution",
        )),
        (Some(_), Some(_)) => Err(CommandError::invalid_params("give --execution or --task with --last, not both")),
        (None, None) => Err(CommandError::invalid_params("give --execution ID, or --task NAME --last")),
    }
}

/// Reads lines and converts them.
pub(crate) async fn read(module: &Scheduler, query: LogQuery) -> Result<Vec<LogLineView>, CommandError> {
    let lines = module.store.logs(query).await.map_err(store_error)?;
    Ok(lines.iter().map(line_view).collect())
}

/// True once the execution's status is final.
pub(crate) async fn has_ended(module: &Scheduler, id: ExecutionId) -> Result<bool, CommandError> {
    let execution = module.store.get_execution(id).await.map_err(store_error)?;
    Ok(execution.is_none_or(|execution| execution.status.is_final()))
}

/// Waits until log lines were appended (anywhere), the execution ended, the call was
/// cancelled, or [`PAGE_WAIT`] passed, whichever comes first.
pub(crate) async fn wait_for_news(
    module: &Scheduler,
    id: ExecutionId,
    mut watch: tokio::sync::watch::Receiver<()>,
    call: &Call<'_>,
) {
    let ended = async {
        match module.engine() {
            Some(engine) => {
                let _ = engine.await_execution(id).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = watch.changed() => {}
        () = ended => {}
        () = tokio::time::sleep(PAGE_WAIT) => {}
        () = call.cancelled() => {}
    }
}

/// The wire shape of a stored line.
pub(crate) fn line_view(line: &LogLine) -> LogLineView {
    LogLineView {
        at: instant(line.at),
        stream: line.stream,
        line: line.line.clone(),
        id: line.id,
        execution_id: line.execution_id.0,
    }
}

/// A `system` line the scheduler itself reports on a followed run (not stored).
pub(crate) fn system_line(at: jiff::Timestamp, execution: ExecutionId, line: String) -> LogLineView {
    // Stored lines carry milliseconds (the store's unit); these match them.
    let at = jiff::Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at);
    LogLineView { at: instant(at), stream: LogStream::System, line, id: 0, execution_id: execution.0 }
}

/// A page with nothing to print that continues with `next`.
pub(crate) fn empty_page<P>(next: P, on_interrupt: String) -> Page<LogLineView, P> {
    Page { items: Vec::new(), next: Some(next), result: None, on_interrupt: Some(on_interrupt) }
}
