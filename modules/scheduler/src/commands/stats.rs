//! `scheduler:stats [--task]`: runs, successes, failures, success rate, durations and the
//! last outcome, overall and per task (or of one task).
//!
//! Counters come from the task rows, so they are exact (retention never trims them) and the
//! overall ones sum the tasks that exist now; durations come from the recent finished
//! attempts (see `Store::stats`). Read-only: no audit row.

use std::sync::Arc;

use scheduler_api::runs::{StatsOutput, StatsParams, StatsReport};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{resolve, store_error};
use super::execution_view::{stats_view, task_stats_view};
use crate::module::Scheduler;
use crate::store::TaskFilter;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: StatsParams,
    _call: Call<'static>,
) -> Result<StatsOutput, CommandError> {
    let store = &module.store;
    if let Some(text) = params.task.as_deref() {
        let task = resolve(store, "task", text, None).await?;
        let stats = store.stats(Some(task.id.clone())).await.map_err(store_error)?;
        return Ok(StatsOutput::Task(task_stats_view(&task, &stats)));
    }
    let overall = store.stats(None).await.map_err(store_error)?;
    let tasks = store.list_tasks(TaskFilter::default()).await.map_err(store_error)?;
    let mut views = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let stats = store.stats(Some(task.id.clone())).await.map_err(store_error)?;
        views.push(task_stats_view(task, &stats));
    }
    Ok(StatsOutput::All(StatsReport { overall: stats_view(&overall), tasks: views }))
}
