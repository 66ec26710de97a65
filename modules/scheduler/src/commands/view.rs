//! Domain tasks to their wire shape: [`task_view`] turns a [`Task`] into the API crate's
//! [`TaskView`](api::TaskView), field by field. The domain types stay unserialisable (only the edges
//! serialise), so this is the one place that decides the JSON of a task.

use scheduler_api::tasks as api;
use scheduler_schedule::ScheduleKind;

use crate::task::{MisfirePolicy, OverlapPolicy, Task, TaskStatus};

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn status(status: TaskStatus) -> api::TaskStatus {
    match status {
        TaskStatus::Active => api::TaskStatus::Active,
        TaskStatus::Paused => api::TaskStatus::Paused,
        TaskStatus::Completed => api::TaskStatus::Completed,
    }
}

pub(crate) fn status_from(status: api::TaskStatus) -> TaskStatus {
    match status {
        api::TaskStatus::Active => TaskStatus::Active,
        api::TaskStatus::Paused => TaskStatus::Paused,
        api::TaskStatus::Completed => TaskStatus::Completed,
    }
}

fn kind(kind: ScheduleKind) -> api::ScheduleKind {
    match kind {
        ScheduleKind::Cron => api::ScheduleKind::Cron,
        ScheduleKind::Interval => api::ScheduleKind::Interval,
        ScheduleKind::Once => api::ScheduleKind::Once,
        ScheduleKind::Manual => api::ScheduleKind::Manual,
    }
}

fn overlap(policy: OverlapPolicy) -> api::OverlapPolicy {
    match policy {
        OverlapPolicy::Skip => api::OverlapPolicy::Skip,
        OverlapPolicy::Queue => api::OverlapPolicy::Queue,
        OverlapPolicy::Allow => api::OverlapPolicy::Allow,
    }
}

pub(crate) fn overlap_from(policy: api::OverlapPolicy) -> OverlapPolicy {
    match policy {
        api::OverlapPolicy::Skip => OverlapPolicy::Skip,
        api::OverlapPolicy::Queue => OverlapPolicy::Queue,
        api::OverlapPolicy::Allow => OverlapPolicy::Allow,
    }
}

fn misfire(policy: MisfirePolicy) -> api::MisfirePolicy {
    match policy {
        MisfirePolicy::RunOnce => api::MisfirePolicy::RunOnce,
        MisfirePolicy::Skip => api::MisfirePolicy::Skip,
        MisfirePolicy::RunAll => api::MisfirePolicy::RunAll,
    }
}

pub(crate) fn misfire_from(policy: api::MisfirePolicy) -> MisfirePolicy {
    match policy {
        api::MisfirePolicy::RunOnce => MisfirePolicy::RunOnce,
        api::MisfirePolicy::Skip => MisfirePolicy::Skip,
        api::MisfirePolicy::RunAll => MisfirePolicy::RunAll,
    }
}

/// The wire view of a task. Instants print as RFC 3339 in UTC.
pub(crate) fn task_view(task: &Task) -> api::TaskView {
    api::TaskView {
        id: task.id.to_string(),
        name: task.name.clone(),
        tenant: task.tenant.clone(),
        command: task.command.clone(),
        schedule: task.schedule.expression().to_owned(),
        kind: kind(task.schedule.kind()),
        timezone: task.schedule.timezone().to_owned(),
        status: status(task.status),
        next_run_at: task.next_run_at.map(|at| at.to_string()),
        last_run_at: task.last_run_at.map(|at| at.to_string()),
        last_status: task.last_status.map(|status| status.as_str().to_owned()),
        data: task.data.clone(),
        retries: task.retries,
        retry_delay_ms: millis(task.retry_delay),
        timeout_ms: millis(task.timeout),
        overlap: overlap(task.overlap),
        misfire: misfire(task.misfire),
        runs: task.counters.runs,
        successes: task.counters.successes,
        failures: task.counters.failures,
        consecutive_failures: task.counters.consecutive_failures,
        created_at: task.created_at.to_string(),
        updated_at: task.updated_at.to_string(),
    }
}

/// The payload of a lifecycle event about `task`.
pub(crate) fn lifecycle_event(task: &Task) -> api::TaskLifecycleEvent {
    api::TaskLifecycleEvent {
        task_id: task.id.to_string(),
        name: task.name.clone(),
        tenant: task.tenant.clone(),
        task: task_view(task),
    }
}
