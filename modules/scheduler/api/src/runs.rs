//! The `scheduler` module's execution commands: `scheduler:run`, `scheduler:cancel`,
//! `scheduler:history`, `scheduler:next`, `scheduler:stats` and `scheduler:validate`, and
//! [`ExecutionView`], the JSON shape of one execution.
//!
//! Field names are those of the engine's `task-event` payload wherever the two overlap
//! (`task_id`, `execution_id`, `scheduled_for`, `attempt`, `trigger`, `status`,
//! `duration_ms`, `error`). Instants are RFC 3339 strings in UTC (`2027-03-14T07:00:00Z`),
//! except [`NextFire::at`], which carries the schedule's UTC offset. Tasks are named by id
//! or by name (in the default tenant).
//!
//! Status, trigger and kind names are plain strings here (the scheduler's own enums are
//! not `Serialize`); the values each field takes are listed on it.

use serde::{Deserialize, Serialize};

use systemprompt_module_sdk::Command;

/// One execution: one attempt of one occurrence of a task, or an occurrence recorded
/// without running (`skipped`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    /// The execution's id (the `execution_id` of its `task-event`s, and the correlation id
    /// of its bus call).
    pub id: i64,
    /// The task's id (the task may since have been deleted).
    pub task_id: String,
    /// The task's name when the execution was made.
    pub task_name: String,
    /// The occurrence it belongs to; for a manual run, when it was asked for.
    pub scheduled_for: String,
    /// Why it exists: `schedule`, `manual`, `retry` or `catch-up`.
    pub trigger: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// `queued`, `running`, `completed`, `failed`, `timeout`, `interrupted`, `skipped` or
    /// `cancelled`.
    pub status: String,
    /// When it was dispatched; `null` while queued and for skipped rows.
    pub started_at: Option<String>,
    /// When it ended; `null` until then.
    pub finished_at: Option<String>,
    /// Run time in milliseconds, for ended attempts.
    pub duration_ms: Option<i64>,
    /// The command's JSON output, for completed attempts; for failed ones, the details the
    /// command gave (a runner's exit code and byte counts, an HTTP status).
    pub output: Option<serde_json::Value>,
    /// The program's exit code, when the command reports one (`exit_code` in its output, as
    /// `shell:run` does).
    pub exit_code: Option<i64>,
    /// Why it failed, timed out, was skipped or cancelled.
    pub error: Option<String>,
    /// The engine (`nodeId`) that ran it; `null` until claimed.
    pub node: Option<String>,
    /// The occurrence's idempotency key, `<task id>:<scheduled for>`: the same for every
    /// attempt of it, and the one the command received (`Call::occurrence`).
    pub idempotency_key: String,
    /// Where the run comes from, in the names REST clients of schedulers use.
    #[serde(flatten)]
    pub source: RunSource,
}

/// Where an execution comes from: `{"source": "schedule", "schedule_id", "schedule_name"}`
/// (the task is the schedule; its id and name as `task_id` and `task_name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSource {
    /// Always `schedule`: every execution belongs to a task.
    pub source: String,
    /// The task's id.
    pub schedule_id: String,
    /// The task's name when the execution was made.
    pub schedule_name: String,
}

impl RunSource {
    /// The `source` of every execution.
    pub const SCHEDULE: &'static str = "schedule";
}

/// `scheduler:run --id <task> [--wait]`: starts an execution of a task now (trigger
/// `manual`), following the task's overlap policy.
///
/// Without `wait` it answers at once with [`RunOutput::Started`]. With `wait` it answers when
/// the run has ended, following its retries, with [`RunOutput::Finished`] (the last attempt);
/// a run that did not complete is an error `failed` whose `details` is that
/// [`ExecutionView`]. A run the overlap policy skipped is an error `conflict` (details: the
/// skipped execution). An unknown task is `not_found`.
pub enum RunTask {}

/// Parameters of [`RunTask`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// The task's id or name.
    pub id: String,
    /// Wait for the run to end (following retries) and return its last attempt.
    #[serde(default)]
    pub wait: bool,
    /// With `wait`: answer pages of the run's log lines (the CLI's follow protocol, see
    /// the manifest's `follow` key and [`crate::logs::Page`]) instead of one final answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pages: bool,
    /// Set by the scheduler in a page's `next`: the attempt being followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<i64>,
    /// Set by the scheduler in a page's `next`: the last log line already returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// A page of [`RunTask`] with `pages`: log lines of the run's attempts (and a `system` line
/// when an attempt starts), the last attempt as `result` when it completed; a run that did
/// not complete ends with the same error as without pages.
pub type RunPage = crate::logs::Page<crate::logs::LogLineView, RunParams>;

/// A run that was started and not waited for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    /// The new execution (follow it with `scheduler:history`).
    pub execution_id: i64,
    /// The task's id.
    pub task_id: String,
    /// The task's name.
    pub name: String,
}

/// What [`RunTask`] returns: the started run, or (with `wait`) its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunOutput {
    /// With `wait` and `pages`: one page.
    Page(Box<RunPage>),
    /// With `wait`: the last attempt, completed.
    Finished(Box<ExecutionView>),
    /// Without `wait`: the execution that was queued.
    Started(RunStarted),
}

impl Command for RunTask {
    const NAME: &'static str = "scheduler:run";
    type Params = RunParams;
    type Output = RunOutput;
}

/// `scheduler:cancel --execution <id>`: cancels an execution that has not ended.
///
/// A queued one (a waiting retry, a queued overlap or manual run, an occurrence its engine
/// claimed ahead of its instant) is recorded `cancelled` and never runs. A running one is
/// recorded `cancelled` (no retry) and its command's cancellation fires. Either way a
/// `task-event` `cancelled` is published and an audit row `execution.cancel` written with
/// the change. An execution that already ended is an error `conflict` ("execution 7
/// already completed", details: the execution); an unknown id is `not_found`.
pub enum CancelExecution {}

/// Parameters of [`CancelExecution`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelParams {
    /// The execution's id (see `scheduler:history`, or the `execution_id` of `scheduler:run`).
    pub execution: i64,
}

/// What [`CancelExecution`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelledExecution {
    /// The execution as recorded: `status` is `cancelled`.
    pub cancelled: ExecutionView,
    /// Its status before: `queued` or `running`.
    pub was: String,
}

impl Command for CancelExecution {
    const NAME: &'static str = "scheduler:cancel";
    type Params = CancelParams;
    type Output = CancelledExecution;
}

/// `scheduler:history [--task] [--status] [--limit] [--since]`: executions, newest first.
pub enum TaskHistory {}

/// Parameters of [`TaskHistory`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only this task (id or name; the id of a deleted task still finds its history).
    #[serde(default)]
    pub task: Option<String>,
    /// Only executions in this status (see [`ExecutionView::status`]).
    #[serde(default)]
    pub status: Option<String>,
    /// At most this many, 1 to 10000; default 20.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only executions scheduled at or after this RFC 3339 instant.
    #[serde(default)]
    pub since: Option<String>,
}

impl Command for TaskHistory {
    const NAME: &'static str = "scheduler:history";
    type Params = HistoryParams;
    type Output = Vec<ExecutionView>;
}

/// `scheduler:next [--count] [--task | --schedule [--timezone]] [--after] [--explain]`:
/// upcoming fire times of every active task (merged), of one task, or of a schedule
/// expression, strictly after now or `--after`.
pub enum NextRuns {}

/// Parameters of [`NextRuns`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextParams {
    /// How many fire times, 1 to 1000; default 5.
    #[serde(default)]
    pub count: Option<i64>,
    /// Only this task (id or name).
    #[serde(default)]
    pub task: Option<String>,
    /// A schedule expression instead of tasks (as `scheduler:validate` takes it).
    #[serde(default)]
    pub schedule: Option<String>,
    /// The IANA time zone of `schedule` (default UTC). Tasks use their own.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Fire times strictly after this RFC 3339 instant (default now); intervals of a
    /// `schedule` count from it.
    #[serde(default)]
    pub after: Option<String>,
    /// Also say in words when it fires.
    #[serde(default)]
    pub explain: bool,
}

/// One upcoming fire time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextFire {
    /// RFC 3339 with the schedule time zone's UTC offset at that instant, e.g.
    /// `2027-03-28T03:00:00+02:00`.
    pub at: String,
    /// The same instant in UTC, e.g. `2027-03-28T01:00:00Z`.
    pub utc: String,
    /// The task's id, when listing tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The task's name, when listing tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Fire times with the schedule in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextExplained {
    /// When it fires, in words, with notes on clock changes in the coming year (English,
    /// not a stable format). For all tasks: one line per active task, `name: text`.
    pub explain: String,
    /// The fire times.
    pub next: Vec<NextFire>,
}

/// What [`NextRuns`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NextOutput {
    /// With `explain`.
    Explained(NextExplained),
    /// Without `explain`: the fire times, earliest first.
    Fires(Vec<NextFire>),
}

impl Command for NextRuns {
    const NAME: &'static str = "scheduler:next";
    type Params = NextParams;
    type Output = NextOutput;
}

/// `scheduler:stats [--task]`: run counts, success rate and durations, overall and per
/// task (or of one task).
pub enum TaskStatistics {}

/// Parameters of [`TaskStatistics`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Only this task (id or name).
    #[serde(default)]
    pub task: Option<String>,
}

/// Statistics of one task or of all tasks. A run is one finished attempt; skipped
/// occurrences do not count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    /// Finished attempts.
    pub runs: u64,
    /// Attempts that completed.
    pub successes: u64,
    /// Attempts that failed, timed out or were interrupted.
    pub failures: u64,
    /// `successes / (successes + failures)`, from 0 to 1; `null` before the first run.
    pub success_rate: Option<f64>,
    /// Mean run time over the recent finished attempts, in milliseconds.
    pub avg_duration_ms: Option<f64>,
    /// 95th percentile run time over the same attempts, in milliseconds.
    pub p95_duration_ms: Option<i64>,
    /// Failed attempts since the last success (overall: the highest of any task).
    pub consecutive_failures: u64,
    /// Status of the most recent finished execution.
    pub last_status: Option<String>,
    /// When the most recent run started (RFC 3339 UTC).
    pub last_run_at: Option<String>,
}

/// The statistics of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatsView {
    /// The task's id.
    pub task_id: String,
    /// The task's name.
    pub name: String,
    /// Its numbers.
    #[serde(flatten)]
    pub stats: StatsView,
}

/// Statistics of every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// All tasks together.
    pub overall: StatsView,
    /// Each task, by name.
    pub tasks: Vec<TaskStatsView>,
}

/// What [`TaskStatistics`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatsOutput {
    /// With `task`.
    Task(TaskStatsView),
    /// Without `task`.
    All(StatsReport),
}

impl Command for TaskStatistics {
    const NAME: &'static str = "scheduler:stats";
    type Params = StatsParams;
    type Output = StatsOutput;
}

/// `scheduler:validate --schedule <expr> [--timezone] [--after]`: parses a schedule as
/// `scheduler:create` would, explains it and lists its next 5 fire times. An invalid one is
/// an error `invalid_params` with the schedule language's message (naming the field and the
/// rule) and `details` `{ "field": "schedule" | "timezone", "kind": "schedule::..." }`.
pub enum ValidateSchedule {}

/// Parameters of [`ValidateSchedule`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    /// The schedule text: cron, interval, once, `manual` or a preset.
    pub schedule: String,
    /// Its IANA time zone (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Fire times strictly after this RFC 3339 instant (default now); intervals count from it.
    #[serde(default)]
    pub after: Option<String>,
}

/// A valid schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateOutput {
    /// Always `true` (an invalid schedule is an error).
    pub valid: bool,
    /// `cron`, `interval`, `once` or `manual`.
    pub kind: String,
    /// The canonical text a task would store (`daily 02:30` becomes `30 2 * * *`).
    pub expression: String,
    /// The canonical IANA time zone name.
    pub timezone: String,
    /// When it fires, in words (English, not a stable format).
    pub explain: String,
    /// The next 5 fire times (fewer when the schedule ends).
    pub next: Vec<NextFire>,
}

impl Command for ValidateSchedule {
    const NAME: &'static str = "scheduler:validate";
    type Params = ValidateParams;
    type Output = ValidateOutput;
}

/// `scheduler:status`: whether this engine runs and its store answers. An engine that is
/// stopping or not started, or a store that does not answer, is an error `unavailable`
/// naming which (the host's `/readyz` calls it).
pub enum SchedulerStatus {}

/// Parameters of [`SchedulerStatus`]: none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {}

/// A running scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusOutput {
    /// Always `running` (an engine that is not is an error).
    pub engine: String,
    /// The engine's name in execution rows (`nodeId`).
    pub node_id: String,
    /// Executions running on this engine now.
    pub running: usize,
    /// Always `reachable` (a store that does not answer is an error).
    pub store: String,
    /// The engine's clock when it answered (RFC 3339 UTC).
    pub now: String,
}

impl Command for SchedulerStatus {
    const NAME: &'static str = "scheduler:status";
    type Params = StatusParams;
    type Output = StatusOutput;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ExecutionView, NextOutput, RunOutput, StatsOutput};

    fn execution() -> serde_json::Value {
        json!({
            "id": 7, "task_id": "t", "task_name": "greet", "scheduled_for": "2027-03-14T07:00:00Z",
            "trigger": "manual", "attempt": 1, "status": "completed", "started_at": "2027-03-14T07:00:00Z",
            "finished_at": "2027-03-14T07:00:01Z", "duration_ms": 1000, "output": {"message": "hi"},
            "exit_code": null, "error": null, "node": "local", "idempotency_key": "t:2027-03-14T07:00:00Z",
            "source": "schedule", "schedule_id": "t", "schedule_name": "greet"
        })
    }

    #[test]
    fn run_output_reads_back_as_the_variant_it_was_written_as() {
        let started: RunOutput =
            serde_json::from_value(json!({"execution_id": 7, "task_id": "t", "name": "greet"})).unwrap();
        assert!(matches!(started, RunOutput::Started(ref s) if s.execution_id == 7), "{started:?}");
        let finished: RunOutput = serde_json::from_value(execution()).unwrap();
        let RunOutput::Finished(view) = &finished else { panic!("{finished:?}") };
        assert_eq!(view.output, Some(json!({"message": "hi"})));
        assert_eq!(serde_json::to_value(&finished).unwrap(), execution());
    }

    #[test]
    fn an_execution_view_writes_absent_values_as_null_in_field_order() {
        let view: ExecutionView = serde_json::from_value(execution()).unwrap();
        let view = ExecutionView { output: None, started_at: None, ..view };
        let written = serde_json::to_value(&view).unwrap();
        let keys: Vec<&str> = written.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys[..3], ["id", "task_id", "task_name"]);
        assert_eq!((&written["output"], &written["started_at"]), (&json!(null), &json!(null)));
    }

    #[test]
    fn next_and_stats_outputs_read_back_as_their_variants() {
        let fires: NextOutput = serde_json::from_value(json!([{"at": "a", "utc": "u"}])).unwrap();
        assert!(matches!(fires, NextOutput::Fires(ref list) if list.len() == 1 && list[0].task_id.is_none()));
        let explained: NextOutput = serde_json::from_value(json!({"explain": "e", "next": []})).unwrap();
        assert!(matches!(explained, NextOutput::Explained(_)));
        let numbers = json!({
            "runs": 1, "successes": 1, "failures": 0, "success_rate": 1.0, "avg_duration_ms": 2.0,
            "p95_duration_ms": 2, "consecutive_failures": 0, "last_status": "completed", "last_run_at": null
        });
        let mut task = json!({"task_id": "t", "name": "greet"});
        task.as_object_mut().unwrap().extend(numbers.as_object().unwrap().clone());
        let one: StatsOutput = serde_json::from_value(task.clone()).unwrap();
        assert!(matches!(one, StatsOutput::Task(ref view) if view.stats.runs == 1));
        assert_eq!(serde_json::to_value(&one).unwrap(), task);
        let all: StatsOutput = serde_json::from_value(json!({"overall": numbers, "tasks": [task]})).unwrap();
        assert!(matches!(all, StatsOutput::All(ref report) if report.tasks.len() == 1));
    }
}

/// The local name of the execution events (subscribers see `scheduler:task-event`). The
/// one definition: the scheduler publishes under it.
pub const TASK_EVENT: &str = "task-event";

/// The payload of a `scheduler:task-event`: one step in the life of an execution. Fields it
/// shares with [`ExecutionView`] have the same names and meanings.
///
/// The one definition of this payload: the scheduler converts each engine event into this
/// type in one place (its `host_bus`) and serialises it once; the README's table of it is
/// checked against it by a test (`tests/api_readme.rs`). Field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskExecutionEvent {
    /// `executed` (started), `completed`, `failed`, `timeout`, `retrying`, `skipped`,
    /// `interrupted` or `cancelled`.
    pub event: String,
    /// The task's id.
    pub task_id: String,
    /// The task's name.
    pub name: String,
    /// The task's tenant.
    pub tenant: String,
    /// The execution (for `retrying`: the queued retry).
    pub execution_id: i64,
    /// RFC 3339 instant of the occurrence.
    pub scheduled_for: String,
    /// RFC 3339 instant of the event: the dispatch for `executed`, the end of the attempt
    /// for ended attempts (and the `retrying` after them), the decision for `skipped`.
    pub at: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `schedule`, `manual`, `retry` or `catch-up`.
    pub trigger: String,
    /// The execution's status after the event.
    pub status: String,
    /// Run time of an ended attempt.
    pub duration_ms: Option<i64>,
    /// Why it failed, was skipped or is retried.
    pub error: Option<String>,
    /// For `retrying`: when the retry becomes due.
    pub retry_at: Option<String>,
    /// The occurrence's idempotency key, `<task id>:<scheduled for>`.
    pub idempotency_key: String,
}
