//! Hand-written conversions from the scheduler's domain types (not `Serialize`) to the JSON
//! shapes of the execution commands in `scheduler_api::runs`.
//!
//! Instants become RFC 3339 strings in UTC; enums become their stable storage names, the
//! same ones the `task-event` payload carries. Nothing here reads the store or the clock.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use scheduler_api::runs::{ExecutionView, NextFire, RunSource, StatsView, TaskStatsView};
use systemprompt_module_sdk::Occurrence;

use crate::task::{Execution, Task, TaskStats};

/// An instant as RFC 3339 in UTC (`2027-03-14T07:00:00Z`; milliseconds only when not zero).
pub(crate) fn instant(at: Timestamp) -> String {
    at.to_string()
}

/// One execution row.
pub(crate) fn execution_view(execution: &Execution) -> ExecutionView {
    let task_id = execution.task_id.to_string();
    let scheduled_for = instant(execution.scheduled_for);
    ExecutionView {
        id: execution.id.0,
        idempotency_key: Occurrence::key_of(&task_id, &scheduled_for),
        source: RunSource {
            source: RunSource::SCHEDULE.to_owned(),
            schedule_id: task_id.clone(),
            schedule_name: execution.task_name.clone(),
        },
        exit_code: execution.output.as_ref().and_then(|output| output.get("exit_code")?.as_i64()),
        task_id,
        task_name: execution.task_name.clone(),
        scheduled_for,
        trigger: execution.trigger.as_str().to_owned(),
        attempt: execution.attempt,
        status: execution.status.as_str().to_owned(),
        started_at: execution.started_at.map(instant),
        finished_at: execution.finished_at.map(instant),
        duration_ms: execution.duration_ms,
        output: execution.output.clone(),
        error: execution.error.clone(),
        node: execution.node_id.clone(),
    }
}

/// Statistics, overall or of one task.
pub(crate) fn stats_view(stats: &TaskStats) -> StatsView {
    StatsView {
        runs: stats.counters.runs,
        successes: stats.counters.successes,
        failures: stats.counters.failures,
        success_rate: stats.success_rate,
        avg_duration_ms: stats.avg_duration_ms,
        p95_duration_ms: stats.p95_duration_ms,
        consecutive_failures: stats.counters.consecutive_failures,
        last_status: stats.last_status.map(|status| status.as_str().to_owned()),
        last_run_at: stats.last_run_at.map(instant),
    }
}

/// Statistics of one task, with its id and name.
pub(crate) fn task_stats_view(task: &Task, stats: &TaskStats) -> TaskStatsView {
    TaskStatsView { task_id: task.id.to_string(), name: task.name.clone(), stats: stats_view(stats) }
}

/// One upcoming fire time in `zone` (for `at`) and UTC, with the task when listing tasks.
pub(crate) fn next_fire(at: Timestamp, zone: &TimeZone, task: Option<&Task>) -> NextFire {
    NextFire {
        at: at.display_with_offset(zone.to_offset(at)).to_string(),
        utc: instant(at),
        task_id: task.map(|task| task.id.to_string()),
        name: task.map(|task| task.name.clone()),
    }
}

/// The zone an IANA name stands for; UTC when unknown (stored schedules were validated
/// when written, so this only guards against a changed tz database).
pub(crate) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}
