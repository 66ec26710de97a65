//! `scheduler:history [--task] [--status] [--limit 20] [--since]`: executions, newest first.
//!
//! `--task` takes an id or a name; the id of a deleted task still finds its history (kept
//! until retention cleanup). `--since` keeps executions scheduled at or after an RFC 3339
//! instant. Read-only: no audit row.

use std::sync::Arc;

use scheduler_api::runs::{ExecutionView, HistoryParams};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{bounded, lookup, parse_instant, store_error};
use super::execution_view::execution_view;
use crate::module::Scheduler;
use crate::store::HistoryQuery;
use crate::task::{ExecutionStatus, TaskId};

/// The default and the largest `--limit`.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 10_000;

/// Every execution status, in the order of its life, for messages.
const STATUSES: &str = "queued, running, completed, failed, timeout, interrupted, skipped or cancelled";

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: HistoryParams,
    _call: Call<'static>,
) -> Result<Vec<ExecutionView>, CommandError> {
    let limit = bounded("limit", params.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let status = params
        .status
        .as_deref()
        .map(|name| {
            ExecutionStatus::from_name(name)
                .ok_or_else(|| CommandError::invalid_params(format!("status must be {STATUSES}, got '{name}'")))
        })
        .transpose()?;
    let since = params.since.as_deref().map(|text| parse_instant("since", text)).transpose()?;
    let (task_id, known) = match params.task.as_deref() {
        None => (None, true),
        Some(text) => match lookup(&module.store, "task", text, None).await? {
            Some(task) => (Some(task.id), true),
            // Maybe a deleted task's id: its history outlives it.
            None => (Some(TaskId(text.trim().to_owned())), false),
        },
    };
    let query = HistoryQuery { task_id, status, since, limit: Some(limit) };
    let executions = module.store.history(query).await.map_err(store_error)?;
    if !known && executions.is_empty() {
        let text = params.task.as_deref().unwrap_or_default().trim();
        return Err(CommandError::not_found(format!(
            "task '{text}' not found (no task has this id or name) and has no matching history"
        )));
    }
    Ok(executions.iter().map(execution_view).collect())
}
