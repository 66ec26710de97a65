//! Domain types: tasks, their schedules and policies, executions, the identity of an
//! occurrence, and statistics.
//!
//! These types are not `Serialize`: only the edges (command handlers, REST) serialize, with
//! their own DTOs. Every enum has a stable storage name (`as_str`/`from_name`) that the
//! store writes and the `task-event` payload uses.
//!
//! Instants are kept to the millisecond: the store writes Unix milliseconds, and
//! [`TaskSchedule`] floors anchors and once-instants so a rebuilt schedule fires at exactly
//! the stored instants.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use scheduler_schedule::{Schedule, ScheduleError, ScheduleKind, ScheduleOptions};
use serde::Deserialize;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The stable name used in storage, events and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stable name back.
            pub fn from_name(name: &str) -> Option<$name> {
                match name { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Whether a task fires.
    TaskStatus {
        /// Fires on its schedule.
        Active = "active",
        /// Does not fire until resumed; manual runs still work.
        Paused = "paused",
        /// A once task whose run has ended; never fires again.
        Completed = "completed",
    }
);

named_enum!(
    /// The life of one execution row.
    ExecutionStatus {
        /// Waiting: a retry, a queued overlap, a manual run or a catch-up backlog.
        Queued = "queued",
        /// Claimed by an engine and dispatched.
        Running = "running",
        /// The command returned output.
        Completed = "completed",
        /// The command returned an error (or does not exist).
        Failed = "failed",
        /// The command ran past the task's timeout and was cancelled.
        Timeout = "timeout",
        /// The engine running it died or stopped.
        Interrupted = "interrupted",
        /// Not run: overlap policy, or the misfire policy `skip`.
        Skipped = "skipped",
        /// Cancelled on request (or its task was deleted).
        Cancelled = "cancelled",
    }
);

impl ExecutionStatus {
    /// True once the row will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::Running)
    }

    /// True for the outcomes that count as a failed attempt.
    pub fn is_failure(self) -> bool {
        matches!(self, ExecutionStatus::Failed | ExecutionStatus::Timeout | ExecutionStatus::Interrupted)
    }
}

named_enum!(
    /// Why an execution exists.
    Trigger {
        /// The task's schedule.
        Schedule = "schedule",
        /// `run_now`.
        Manual = "manual",
        /// A retry of a failed attempt.
        Retry = "retry",
        /// An occurrence missed while the engine was down (misfire policy).
        CatchUp = "catch-up",
    }
);

named_enum!(
    /// Which occurrence an execution belongs to: a scheduled one (unique per task and
    /// instant) or a manual request (unique by itself).
    Origin {
        /// A scheduled occurrence, including its catch-up and retries.
        Schedule = "schedule",
        /// A manual run, including its retries.
        Manual = "manual",
    }
);

named_enum!(
    /// What happens when an occurrence is due while the task is still running.
    ///
    /// ```text
    /// occurrences   |1      |2      |3
    /// run of 1      [=============]
    /// skip          run 1, 2 skipped, 3 runs
    /// queue         run 1, 2 waits and runs when 1 ends, 3 skipped if 2 still waits
    /// allow         1, 2 and 3 all run (concurrently)
    /// ```
    OverlapPolicy {
        /// Record the new occurrence as `skipped` (default).
        Skip = "skip",
        /// Keep at most one occurrence waiting; run it when the task is free.
        Queue = "queue",
        /// Run concurrently.
        Allow = "allow",
    }
);

named_enum!(
    /// What happens to occurrences missed while no engine ran (or the clock jumped).
    ///
    /// An occurrence is missed when it is claimed more than `misfireGrace` after its time.
    /// ```text
    /// due       |a   |b   |c   |d        (engine down from before a until after d)
    /// run_once  one catch-up run for d
    /// skip      nothing runs; one `skipped` row records that a..d were missed
    /// run_all   catch-up runs for a, b, c, d one after another (at most misfireRunAllLimit)
    /// ```
    MisfirePolicy {
        /// One catch-up run for the whole gap (default).
        RunOnce = "run_once",
        /// No catch-up.
        Skip = "skip",
        /// One run per missed occurrence, up to a bound.
        RunAll = "run_all",
    }
);

/// How the delay grows between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffKind {
    /// The same delay before every retry.
    Fixed,
    /// `delay * 2^(attempt-1)`, capped by `retryDelayMax`.
    Exponential,
}

impl BackoffKind {
    /// The stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackoffKind::Fixed => "fixed",
            BackoffKind::Exponential => "exponential",
        }
    }

    /// Parses a storage name.
    pub fn from_name(name: &str) -> Option<BackoffKind> {
        match name {
            "fixed" => Some(BackoffKind::Fixed),
            "exponential" => Some(BackoffKind::Exponential),
            _ => None,
        }
    }
}

/// A task's id (a UUID v7, so ids sort by creation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub String);

impl TaskId {
    /// A fresh id.
    pub fn generate() -> TaskId {
        TaskId(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An execution's id; also the `correlation_id` of its bus call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionId(pub i64);

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How to find a task: by id, or by name within a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKey {
    /// By id.
    Id(TaskId),
    /// By unique name within a tenant.
    Name {
        /// The tenant (`default` unless multi-tenant).
        tenant: String,
        /// The task's name.
        name: String,
    },
}

/// The tenant tasks belong to unless told otherwise.
pub const DEFAULT_TENANT: &str = "default";

/// A schedule with everything needed to rebuild it exactly: kind, expression, time zone
/// and anchor (all stored).
#[derive(Debug, Clone)]
pub struct TaskSchedule {
    schedule: Schedule,
    // Invariant: a whole number of milliseconds, the same value the store writes.
    anchor: Timestamp,
}

fn floor_ms(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

impl TaskSchedule {
    /// Parses a schedule text (`*/5 * * * *`, `30s`, `2030-01-01T00:00:00Z`, `now`,
    /// `manual`). `anchor` is usually "now": intervals count from it and `now` means it.
    pub fn parse(
        text: &str,
        timezone: Option<String>,
        kind: Option<ScheduleKind>,
        anchor: Timestamp,
    ) -> Result<TaskSchedule, ScheduleError> {
        let anchor = floor_ms(anchor);
        let options = ScheduleOptions { timezone: timezone.clone(), anchor, kind };
        let schedule = Schedule::parse(text, &options)?;
        if schedule.kind() == ScheduleKind::Once
            && let Some(at) = schedule.next_after(Timestamp::MIN)
            && floor_ms(at) != at
        {
            let text = floor_ms(at).to_string();
            let options = ScheduleOptions { kind: Some(ScheduleKind::Once), ..options };
            let schedule = Schedule::parse(&text, &options)?;
            return Ok(TaskSchedule { schedule, anchor });
        }
        Ok(TaskSchedule { schedule, anchor })
    }

    /// Rebuilds a stored schedule.
    pub fn restore(
        kind: ScheduleKind,
        expression: &str,
        timezone: &str,
        anchor: Timestamp,
    ) -> Result<TaskSchedule, ScheduleError> {
        let options = ScheduleOptions { timezone: Some(timezone.to_owned()), anchor, kind: Some(kind) };
        Ok(TaskSchedule { schedule: Schedule::parse(expression, &options)?, anchor })
    }

    /// The parsed schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The schedule's kind.
    pub fn kind(&self) -> ScheduleKind {
        self.schedule.kind()
    }

    /// The text to store.
    pub fn expression(&self) -> &str {
        self.schedule.expression()
    }

    /// The IANA time zone name.
    pub fn timezone(&self) -> &str {
        self.schedule.timezone()
    }

    /// The anchor intervals count from.
    pub fn anchor(&self) -> Timestamp {
        self.anchor
    }

    /// The first fire time of a task created or resumed at `now`: the instant itself for a
    /// once schedule (even when past: the misfire policy then decides), otherwise the next
    /// fire strictly after `now`.
    pub fn first_fire(&self, now: Timestamp) -> Option<Timestamp> {
        match self.kind() {
            ScheduleKind::Once => self.schedule.next_after(Timestamp::MIN).map(floor_ms),
            _ => self.next_after(now),
        }
    }

    /// The next fire time strictly after `after`, floored to the millisecond and still
    /// strictly after `after` (so advancing never repeats an occurrence).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let after_ms = after.as_millisecond();
        let mut at = self.schedule.next_after(after)?;
        for _ in 0..1_000 {
            let floored = floor_ms(at);
            if floored.as_millisecond() > after_ms {
                return Some(floored);
            }
            at = self.schedule.next_after(at)?;
        }
        None
    }
}

/// Values a new task takes when it does not set them (from the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDefaults {
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Base retry delay.
    pub retry_delay: Duration,
    /// Backoff growth.
    pub retry_backoff: BackoffKind,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

/// Everything needed to create a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// Tenant; tasks' names are unique per tenant.
    pub tenant: String,
    /// Unique name within the tenant.
    pub name: String,
    /// The bus command to dispatch, e.g. `system:health`.
    pub command: String,
    /// The command's JSON payload.
    pub data: serde_json::Value,
    /// When it fires.
    pub schedule: TaskSchedule,
    /// Retries after a failed attempt; 0 means none.
    pub retries: u32,
    /// Base retry delay.
    pub retry_delay: Duration,
    /// Backoff growth.
    pub retry_backoff: BackoffKind,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// What to do when due while running.
    pub overlap: OverlapPolicy,
    /// What to do with occurrences missed while down.
    pub misfire: MisfirePolicy,
    /// Create it paused.
    pub paused: bool,
}

impl NewTask {
    /// A task with the config's defaults, in the default tenant, data `{}`.
    pub fn new(
        name: impl Into<String>,
        command: impl Into<String>,
        schedule: TaskSchedule,
        defaults: &TaskDefaults,
    ) -> NewTask {
        NewTask {
            tenant: DEFAULT_TENANT.to_owned(),
            name: name.into(),
            command: command.into(),
            data: serde_json::Value::Object(serde_json::Map::new()),
            schedule,
            retries: defaults.retries,
            retry_delay: defaults.retry_delay,
            retry_backoff: defaults.retry_backoff,
            timeout: defaults.timeout,
            overlap: OverlapPolicy::Skip,
            misfire: MisfirePolicy::RunOnce,
            paused: false,
        }
    }
}

/// A partial update; `None` leaves a field as it is. A new schedule recomputes the next run.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    /// New name (must stay unique in the tenant).
    pub name: Option<String>,
    /// New command.
    pub command: Option<String>,
    /// New payload.
    pub data: Option<serde_json::Value>,
    /// New schedule; the next run is recomputed from now.
    pub schedule: Option<TaskSchedule>,
    /// New retry count.
    pub retries: Option<u32>,
    /// New retry delay.
    pub retry_delay: Option<Duration>,
    /// New backoff.
    pub retry_backoff: Option<BackoffKind>,
    /// New timeout.
    pub timeout: Option<Duration>,
    /// New overlap policy.
    pub overlap: Option<OverlapPolicy>,
    /// New misfire policy.
    pub misfire: Option<MisfirePolicy>,
}

/// Run counters of a task. A run is one finished attempt (skipped occurrences not included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounters {
    /// Finished attempts.
    pub runs: u64,
    /// Attempts that completed.
    pub successes: u64,
    /// Attempts that failed, timed out or were interrupted.
    pub failures: u64,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
}

/// A stored task.
#[derive(Debug, Clone)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// Tenant.
    pub tenant: String,
    /// Name, unique per tenant.
    pub name: String,
    /// Bus command.
    pub command: String,
    /// Command payload.
    pub data: serde_json::Value,
    /// Schedule (kind, expression, time zone, anchor).
    pub schedule: TaskSchedule,
    /// Active, paused or completed.
    pub status: TaskStatus,
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Base retry delay.
    pub retry_delay: Duration,
    /// Backoff growth.
    pub retry_backoff: BackoffKind,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// Overlap policy.
    pub overlap: OverlapPolicy,
    /// Misfire policy.
    pub misfire: MisfirePolicy,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When the last run started.
    pub last_run_at: Option<Timestamp>,
    /// Status of the last finished execution (`skipped` for a once task whose occurrence the
    /// misfire policy `skip` dropped).
    pub last_status: Option<ExecutionStatus>,
    /// Error of the last finished execution, if it failed.
    pub last_error: Option<String>,
    /// Next scheduled occurrence; `None` when paused, completed or manual.
    pub next_run_at: Option<Timestamp>,
    /// Counters.
    pub counters: TaskCounters,
}

/// A stored execution (one attempt of one occurrence, or a skipped occurrence).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Id.
    pub id: ExecutionId,
    /// The task (which may since have been deleted).
    pub task_id: TaskId,
    /// The task's name when the execution was made.
    pub task_name: String,
    /// Scheduled occurrence or manual request.
    pub origin: Origin,
    /// Why it ran.
    pub trigger: Trigger,
    /// The occurrence's instant (manual: when it was asked for).
    pub scheduled_for: Timestamp,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Status.
    pub status: ExecutionStatus,
    /// For queued rows: when it may start.
    pub run_at: Option<Timestamp>,
    /// When it was claimed and dispatched.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Run time.
    pub duration_ms: Option<i64>,
    /// The command's JSON output.
    pub output: Option<serde_json::Value>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// The engine that ran it.
    pub node_id: Option<String>,
    /// The attempt this one retries.
    pub retry_of: Option<ExecutionId>,
}

/// Who one execution is: the occurrence identity shared by a claim, its bus call and its
/// events (`ClaimedExecution`, `NotedExecution`, `TaskCall`, `TaskEvent`).
///
/// The store makes it once per execution row and the engine shares it behind an `Arc`, so a
/// fire copies the task's strings once, not once per shape.
///
/// The clock epoch is not part of it: it only keeps the unique occurrence index apart across
/// a backward clock jump, the execution id already names the row, and no call or event
/// carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The task.
    pub task_id: TaskId,
    /// The task's name when the execution was made.
    pub name: String,
    /// The task's tenant.
    pub tenant: String,
    /// The execution row; also the `correlation_id` of its bus call.
    pub execution_id: ExecutionId,
    /// The occurrence's instant (manual: when it was asked for).
    pub scheduled_for: Timestamp,
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// Why it runs.
    pub trigger: Trigger,
}

/// Aggregated statistics of one task or all tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskStats {
    /// Counters (summed over tasks for the global view).
    pub counters: TaskCounters,
    /// `successes / (successes + failures)`, `None` before the first run.
    pub success_rate: Option<f64>,
    /// Mean duration over the recent window of finished attempts.
    pub avg_duration_ms: Option<f64>,
    /// 95th percentile duration over the same window.
    pub p95_duration_ms: Option<i64>,
    /// Status of the most recent finished execution.
    pub last_status: Option<ExecutionStatus>,
    /// When the most recent run started.
    pub last_run_at: Option<Timestamp>,
}

/// The stream a log line came from (`stdout`, `stderr`, `system`); the wire type of
/// `scheduler-api`, stored by its name.
pub use scheduler_api::logs::LogStream;

/// One line of an execution's log, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The line's row id: increasing within the store, the cursor of a follow.
    pub id: i64,
    /// The execution.
    pub execution_id: ExecutionId,
    /// When it arrived.
    pub at: Timestamp,
    /// Its stream.
    pub stream: LogStream,
    /// Its text (without the line break).
    pub line: String,
}

/// One audit record: who did what to which task.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who (user, `cli`, `api`, `engine`).
    pub actor: String,
    /// What, e.g. `task.create`.
    pub action: String,
    /// The task, if any.
    pub task_id: Option<TaskId>,
    /// Details.
    pub details: serde_json::Value,
}
