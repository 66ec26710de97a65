//! `scheduler:next [--count 5] [--task | --schedule [--timezone]] [--after] [--explain]`:
//! upcoming fire times, strictly after now (the scheduler's clock) or `--after`.
//!
//! Three sources: every active task (each task's next `count` times, merged and sorted,
//! the first `count` kept; ties by name), one task (a paused or completed task has none),
//! or a schedule expression parsed as `scheduler:create` would (intervals count from the
//! start instant). Times are computed from the schedules; nothing is claimed or written.

use std::sync::Arc;

use jiff::Timestamp;
use scheduler_api::runs::{NextExplained, NextFire, NextOutput, NextParams};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{bounded, parse_instant, resolve, schedule_error, store_error};
use super::execution_view::{next_fire, zone};
use crate::module::Scheduler;
use crate::store::TaskFilter;
use crate::task::{Task, TaskSchedule, TaskStatus};

/// The default and the largest `--count`.
const DEFAULT_COUNT: usize = 5;
const MAX_COUNT: usize = 1_000;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: NextParams,
    _call: Call<'static>,
) -> Result<NextOutput, CommandError> {
    let count = bounded("count", params.count, DEFAULT_COUNT, MAX_COUNT)?;
    let after = match params.after.as_deref() {
        Some(text) => parse_instant("after", text)?,
        None => module.clock.now(),
    };
    if params.timezone.is_some() && params.schedule.is_none() {
        return Err(CommandError::invalid_params(
            "timezone applies to schedule only; a task fires in its own time zone",
        ));
    }
    let (next, explain) = match (params.task.as_deref(), params.schedule.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(CommandError::invalid_params("give task or schedule, not both"));
        }
        (None, Some(text)) => {
            let schedule = TaskSchedule::parse(text, params.timezone.clone(), None, after)
                .map_err(|error| schedule_error(&error))?;
            let next = fires(&schedule, after, count, None);
            (next, params.explain.then(|| schedule.schedule().explain(after).to_string()))
        }
        (Some(text), None) => {
            let task = resolve(&module.store, "task", text, None).await?;
            let explain = params.explain.then(|| explain_task(&task, after));
            let next = if task.status == TaskStatus::Active {
                fires(&task.schedule, after, count, Some(&task))
            } else {
                Vec::new()
            };
            (next, explain)
        }
        (None, None) => {
            let filter = TaskFilter { status: Some(TaskStatus::Active), ..TaskFilter::default() };
            let tasks = module.store.list_tasks(filter).await.map_err(store_error)?;
            let mut next: Vec<(Timestamp, NextFire)> = Vec::new();
            for task in &tasks {
                let zone = zone(task.schedule.timezone());
                next.extend(
                    times(&task.schedule, after, count).into_iter().map(|at| (at, next_fire(at, &zone, Some(task)))),
                );
            }
            next.sort_by(|(a, left), (b, right)| a.cmp(b).then_with(|| left.name.cmp(&right.name)));
            next.truncate(count);
            let explain = params.explain.then(|| {
                if tasks.is_empty() {
                    return "no active tasks".to_owned();
                }
                tasks
                    .iter()
                    .map(|task| format!("{}: {}", task.name, explain_task(task, after)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            (next.into_iter().map(|(_, fire)| fire).collect(), explain)
        }
    };
    Ok(match explain {
        Some(explain) => NextOutput::Explained(NextExplained { explain, next }),
        None => NextOutput::Fires(next),
    })
}

/// Up to `count` fire times of a schedule strictly after `after`, as a task would fire
/// (to the millisecond).
fn times(schedule: &TaskSchedule, after: Timestamp, count: usize) -> Vec<Timestamp> {
    let mut out = Vec::with_capacity(count);
    let mut cursor = after;
    while out.len() < count {
        let Some(at) = schedule.next_after(cursor) else {
            break;
        };
        out.push(at);
        cursor = at;
    }
    out
}

/// [`times`] as fire times in the schedule's zone.
pub(crate) fn fires(schedule: &TaskSchedule, after: Timestamp, count: usize, task: Option<&Task>) -> Vec<NextFire> {
    let zone = zone(schedule.timezone());
    times(schedule, after, count).into_iter().map(|at| next_fire(at, &zone, task)).collect()
}

/// A task's schedule in words, saying when the task does not fire.
fn explain_task(task: &Task, after: Timestamp) -> String {
    let text = task.schedule.schedule().explain(after).to_string();
    match task.status {
        TaskStatus::Active => text,
        TaskStatus::Paused => format!("{text}; the task is paused and does not fire until resumed"),
        TaskStatus::Completed => format!("{text}; the task has completed and never fires again"),
    }
}
