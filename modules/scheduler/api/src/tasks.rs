//! The task commands of the `scheduler` module: `scheduler:list`, `get`, `create`, `update`,
//! `delete`, `pause` and `resume`, the [`TaskView`] they return, and the payload of the
//! task lifecycle events ([`TaskLifecycleEvent`]).
//!
//! One JSON shape everywhere: the CLI prints these types with `--format json`, other
//! modules call the commands with them (`host.call::<CreateTask>(&params)`), and the
//! `scheduler:task-*` events carry a [`TaskView`].
//!
//! Parameters follow the manifest (`modules/scheduler/module.yaml`): keys are snake_case,
//! CLI flags the same with `-`. Optional parameters a caller leaves out are not sent, so the
//! audit row of a change records the parameters exactly as given. Integers that have a range
//! (`retries`, `retry_delay_ms`, `timeout_ms`) are signed on the wire so that an out-of-range
//! value is refused by the scheduler with a message naming the parameter, not by the JSON
//! decoder.
//!
//! What this file deliberately does not hold: execution types (see [`super::runs`]) and any
//! scheduler logic; validation happens in the scheduler's handlers.

use serde::{Deserialize, Serialize};

use systemprompt_module_sdk::Command;

/// Whether a task fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Fires on its schedule.
    Active,
    /// Does not fire until resumed; manual runs still work.
    Paused,
    /// A once task whose run has ended; it never fires again (updating its schedule
    /// reactivates it).
    Completed,
}

/// The kind of a task's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// A 5-field cron expression (presets such as `daily 02:30` are stored as cron).
    Cron,
    /// A fixed duration such as `5m`, counted from when the schedule was set.
    Interval,
    /// A single instant.
    Once,
    /// Never fires by itself; only runs on request.
    Manual,
}

/// What happens when an occurrence is due while the task is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// The new occurrence is recorded `skipped` (the default).
    Skip,
    /// At most one occurrence waits and runs when the task is free.
    Queue,
    /// Occurrences run concurrently.
    Allow,
}

/// What happens to occurrences missed while no engine ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// One catch-up run for the whole gap (the default).
    RunOnce,
    /// No catch-up; one `skipped` row records the gap.
    Skip,
    /// One run per missed occurrence, up to the scheduler's `misfireRunAllLimit`.
    RunAll,
}

/// A task as every task command returns it. Field order is the JSON order.
///
/// Instants are RFC 3339 strings in UTC (`2027-01-05T09:30:00Z`, with milliseconds when
/// they are not zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// The task's id (a UUID v7: ids sort by creation time).
    pub id: String,
    /// Unique within the tenant.
    pub name: String,
    /// The tenant the task belongs to (`default` unless given).
    pub tenant: String,
    /// The bus command each run dispatches, e.g. `system:health`.
    pub command: String,
    /// The schedule as stored: cron text (presets expanded, e.g. `30 2 * * *`), a canonical
    /// interval (`1h30m`), an RFC 3339 instant for once tasks, or `manual`.
    pub schedule: String,
    /// The schedule's kind.
    pub kind: ScheduleKind,
    /// The IANA time zone cron and local once times are read in (`UTC` unless given).
    pub timezone: String,
    /// Active, paused or completed.
    pub status: TaskStatus,
    /// The next scheduled occurrence; `null` when paused, completed or manual.
    pub next_run_at: Option<String>,
    /// When the last run started; `null` before the first run.
    pub last_run_at: Option<String>,
    /// Status of the last finished execution (`completed`, `failed`, `timeout`,
    /// `interrupted`, `cancelled`, `skipped`); `null` before the first one.
    pub last_status: Option<String>,
    /// The JSON object each run sends as the command's parameters.
    pub data: serde_json::Value,
    /// Retries after a failed attempt (0: none).
    pub retries: u32,
    /// Base delay before a retry, in milliseconds (the scheduler's backoff grows it).
    pub retry_delay_ms: u64,
    /// Time limit of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// What happens when an occurrence is due while the task is running.
    pub overlap: OverlapPolicy,
    /// What happens to occurrences missed while no engine ran.
    pub misfire: MisfirePolicy,
    /// Finished attempts (skipped occurrences not included).
    pub runs: u64,
    /// Attempts that completed.
    pub successes: u64,
    /// Attempts that failed, timed out or were interrupted.
    pub failures: u64,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    /// When the task was created.
    pub created_at: String,
    /// When a command last changed the task (runs do not change it).
    pub updated_at: String,
}

/// The local names of the task lifecycle events (subscribers see `scheduler:<name>`); each
/// carries a [`TaskLifecycleEvent`].
pub mod events {
    /// A task was created.
    pub const TASK_CREATED: &str = "task-created";
    /// A task was changed by `scheduler:update`.
    pub const TASK_UPDATED: &str = "task-updated";
    /// A task was deleted; the payload holds its last view.
    pub const TASK_DELETED: &str = "task-deleted";
    /// A task was paused (one event per task, also for "pause all").
    pub const TASK_PAUSED: &str = "task-paused";
    /// A task was resumed (one event per task, also for "resume all").
    pub const TASK_RESUMED: &str = "task-resumed";
}

/// The payload of every task lifecycle event ([`events`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLifecycleEvent {
    /// The task's id.
    pub task_id: String,
    /// The task's name (after the change).
    pub name: String,
    /// The task's tenant.
    pub tenant: String,
    /// The task after the change (for `task-deleted`: as it was when deleted).
    pub task: TaskView,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// `scheduler:list [--status S] [--tenant T]`: tasks ordered by tenant, then name.
pub enum ListTasks {}

/// Parameters of [`ListTasks`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTasksParams {
    /// Only tasks with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Only tasks of this tenant; every tenant when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl Command for ListTasks {
    const NAME: &'static str = "scheduler:list";
    type Params = ListTasksParams;
    type Output = Vec<TaskView>;
}

/// How the task commands find a task: `id` is a task id or a task name; a name is looked up
/// in `tenant` (`default` when absent), and when `tenant` is given an id must belong to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    /// A task id or name.
    pub id: String,
    /// The tenant to look the name up in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `scheduler:get --id <id or name>`: one task; `not_found` when there is none.
pub enum GetTask {}

impl Command for GetTask {
    const NAME: &'static str = "scheduler:get";
    type Params = TaskRef;
    type Output = TaskView;
}

/// `scheduler:create`: a new task. Returns it; publishes `task-created`.
pub enum CreateTask {}

/// Parameters of [`CreateTask`]. Absent optional values take the scheduler's defaults
/// (`defaultRetries`, `retryDelay`, `taskTimeout` from its config; overlap `skip`, misfire
/// `run_once`, time zone `UTC`, tenant `default`, data `{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskParams {
    /// Unique within the tenant; 1 to 128 characters, no control characters, no leading or
    /// trailing spaces.
    pub name: String,
    /// The bus command to run; a loaded module must declare it. Give exactly one of
    /// `command`, `exec` and `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Shorthand for `shell:run`: a command line split shell-words style into the program
    /// and its arguments (`'pg_dump -Fc "my db"'` is three words), never run by a shell.
    /// `data` may add the other `shell:run` fields (`env`, `cwd`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    /// Shorthand for `http:request` to this URL; `data` may add the other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The HTTP method of `url` (`GET` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// When to run: cron (`0 2 * * *`), interval (`5m`), preset (`daily 02:30`,
    /// `weekly mon 09:00`, `monthly 31 23:00`, `every 15m`), an instant (RFC 3339 or
    /// `2027-01-05 09:30` in `timezone`), `now` or `manual`.
    pub schedule: String,
    /// The command's parameters: a JSON object, or absent for `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Run once: the schedule is an instant, `now`, or an interval counted from now
    /// (`--once 10m` runs once in ten minutes).
    #[serde(default, skip_serializing_if = "is_false")]
    pub once: bool,
    /// IANA time zone for cron and local times (`UTC` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Retries after a failed attempt, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Base delay before a retry in milliseconds, 0 to 86 400 000 (one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<i64>,
    /// Time limit of one attempt in milliseconds, 1 to 86 400 000 (one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    /// Overlap policy (`skip` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapPolicy>,
    /// Misfire policy (`run_once` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire: Option<MisfirePolicy>,
    /// Also start one run at once (the schedule is kept).
    #[serde(default, skip_serializing_if = "is_false")]
    pub run_now: bool,
    /// The tenant (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl Command for CreateTask {
    const NAME: &'static str = "scheduler:create";
    type Params = CreateTaskParams;
    type Output = TaskView;
}

/// `scheduler:update --id <id or name> [changes]`: changes the fields given, with the same
/// rules as [`CreateTask`]. Returns the task; publishes `task-updated`.
///
/// A new `schedule`, `timezone` or `once` rebuilds the schedule and recomputes the next run
/// from now (a new schedule text also restarts interval counting from now). The kind
/// follows the new text (`5m` → `0 2 * * *` turns an interval task into a cron task).
/// A running execution is not disturbed.
pub enum UpdateTask {}

/// Parameters of [`UpdateTask`]; every change is optional, at least one is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskParams {
    /// The task's id or name.
    pub id: String,
    /// The tenant to look the name up in (`default` when absent); not changeable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new schedule text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// A new command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A new payload (a JSON object; replaces the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// A new time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// New retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// New retry delay (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<i64>,
    /// New timeout (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    /// New overlap policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapPolicy>,
    /// New misfire policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire: Option<MisfirePolicy>,
    /// Make it a once task (with the new schedule text, or the current one).
    #[serde(default, skip_serializing_if = "is_false")]
    pub once: bool,
    /// `false` pauses the task, `true` resumes it (as `scheduler:pause`/`resume` would,
    /// with their audit rows and events), after the other changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl Command for UpdateTask {
    const NAME: &'static str = "scheduler:update";
    type Params = UpdateTaskParams;
    type Output = TaskView;
}

/// `scheduler:delete --id <id or name> --confirm`: deletes a task. Publishes
/// `task-deleted`.
///
/// Its execution history stays readable until retention cleanup removes it; queued
/// executions are cancelled; a running one finishes on its own.
pub enum DeleteTask {}

/// Parameters of [`DeleteTask`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteTaskParams {
    /// The task's id or name.
    pub id: String,
    /// The tenant to look the name up in (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Must be `true`: without it the scheduler refuses (`invalid_params`) and deletes
    /// nothing.
    #[serde(default)]
    pub confirm: bool,
}

/// What [`DeleteTask`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedTask {
    /// The task as it was when deleted.
    pub deleted: TaskView,
}

impl Command for DeleteTask {
    const NAME: &'static str = "scheduler:delete";
    type Params = DeleteTaskParams;
    type Output = DeletedTask;
}

/// Parameters of [`PauseTasks`] and [`ResumeTasks`]: one task, or every task (of `tenant`,
/// when given) when `id` is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSelection {
    /// The task's id or name; all tasks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// With `id`: the tenant to look the name up in. Without: only this tenant's tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// What [`PauseTasks`] and [`ResumeTasks`] return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedTasks {
    /// The tasks whose status changed, by tenant and name; empty when none did (a task
    /// that was already paused, or already active, is not listed).
    pub tasks: Vec<TaskView>,
}

/// `scheduler:pause [--id <id or name>]`: stops one task, or all, from firing. Publishes
/// `task-paused` per changed task. A completed task cannot be paused (`conflict`).
pub enum PauseTasks {}

impl Command for PauseTasks {
    const NAME: &'static str = "scheduler:pause";
    type Params = TaskSelection;
    type Output = ChangedTasks;
}

/// `scheduler:resume [--id <id or name>]`: lets one paused task, or all, fire again, from
/// now on (missed occurrences are not replayed). Publishes `task-resumed` per changed task.
/// A completed once task cannot be resumed (`conflict`): update its schedule instead.
pub enum ResumeTasks {}

impl Command for ResumeTasks {
    const NAME: &'static str = "scheduler:resume";
    type Params = TaskSelection;
    type Output = ChangedTasks;
}
