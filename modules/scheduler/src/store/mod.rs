//! The store: every read and write of tasks, executions, logs and audit rows goes through
//! the [`Store`] trait, so a PostgreSQL implementation can stand beside [`SqliteStore`].
//!
//! The engine-facing operations are few and each is one transaction:
//! - [`Store::claim_due`] claims due work up to a limit: it writes the execution rows,
//!   advances each task's `next_run_at` from the occurrence it claimed (never from now), and
//!   applies overlap and misfire policies.
//! - [`Store::finish_executions`] records attempts' outcomes, their tasks' counters, the
//!   durable retry rows (if any) and once tasks' completion: a batch in one transaction,
//!   each outcome recorded or refused on its own.
//! - [`Store::recover`] turns executions left `running` by a dead engine into `interrupted`,
//!   with their retries, and returns its claims that were never dispatched to the queue.
//!
//! Claim ahead: an occurrence claimed before its instant is written `queued` with the
//! claiming node and its planned start (a claim, invisible to other claims; overlap checks
//! count it as running). A run that lasts becomes `running` 100 ms after its dispatch
//! ([`Store::mark_claim`]); a shorter one goes from the claim straight to its outcome
//! ([`Store::finish_executions`] takes a claim), which saves a write per fire. A row never
//! shows `running` before its start, and a claim whose engine died before the instant, or
//! within those 100 ms of it, is returned to the queue as the same attempt: it runs after
//! the restart and consumes no retry.
//!
//! Invariant: an occurrence of a task (`task_id`, `scheduled_for`, `attempt`, `clock_epoch`)
//! has at most one execution row, enforced by a unique index, so two engines cannot both run
//! it. The clock epoch changes only when the wall clock goes back ([`Store::rebase_clock`]).
//!
//! Deleting a task keeps its finished executions (history, removed by retention cleanup),
//! marks its queued ones `cancelled`, and leaves a running one to end on its own (the engine
//! can cancel it: `EngineHandle::cancel_task`).
//!
//! Store futures are `'static` and do not borrow the store.
//!
//! A store is opened from config through [`open`], keyed by the database location
//! ([`Location`]). Backend errors convert to [`StoreError`] inside their backend.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::value::RawValue;

use crate::task::{
    AuditEntry, Execution, ExecutionId, ExecutionStatus, LogLine, LogStream, NewTask, Occurrence, Origin, Task, TaskId,
    TaskKey, TaskPatch, TaskStats, TaskStatus,
};

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod open;
mod sqlite;

pub use open::{Location, open};
pub use sqlite::SqliteStore;

/// SQL the tests inspect (query plans).
#[cfg(test)]
pub(crate) mod sqlite_internals {
    pub(crate) use super::sqlite::{DUE_TASKS_SQL, NEXT_QUEUED_SQL, QUEUED_DUE_SQL, TASK_COLUMNS, migrate};
}

/// A boxed store future.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Store errors. `Database` and `Closed` are transient (retry later); the others are
/// permanent for the request that caused them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement. Transient when the database is busy.
    ///
    /// # Resolution
    /// Check disk space and that no other program holds a lock on the file.
    #[error("database error: {0}")]
    Database(String),
    /// A task with this name exists in the tenant. Permanent.
    #[error("a task named '{name}' already exists in tenant '{tenant}'")]
    NameTaken {
        /// Tenant.
        tenant: String,
        /// Name.
        name: String,
    },
    /// No such task. Permanent.
    #[error("task '{0}' not found")]
    TaskNotFound(String),
    /// No such execution. Permanent.
    #[error("execution {0} not found")]
    ExecutionNotFound(ExecutionId),
    /// The task cannot make this change in its current state. Permanent.
    ///
    /// # Resolution
    /// A completed once task cannot be resumed: create a new task, or update its schedule.
    #[error("task '{task}' is {status}: {message}")]
    InvalidState {
        /// The task.
        task: String,
        /// Its status.
        status: TaskStatus,
        /// Why the change is refused.
        message: String,
    },
    /// A stored value could not be read back (bad enum name, bad schedule). Permanent.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The schema is unknown or a migration failed. Permanent.
    ///
    /// # Resolution
    /// The database was written by a newer version of the scheduler: upgrade, or point
    /// `databasePath` elsewhere.
    #[error("migration error: {0}")]
    Migration(String),
    /// The database file exists but cannot be trusted: it is empty, is not a SQLite
    /// database, or fails SQLite's `quick_check`. Permanent: the store refuses to open it and
    /// never writes to it.
    ///
    /// # Resolution
    /// Restore the file from a backup. To start with an empty store instead, move the file
    /// aside (keep it: its tasks and history may be recoverable with `sqlite3 .recover`).
    #[error("{0}")]
    Damaged(String),
    /// The store's worker thread is gone (the store was closed). Transient for callers that
    /// reopen.
    #[error("the store is closed")]
    Closed,
    /// The disk (or the file system's quota) is full: nothing of the write was committed.
    /// Transient: the write succeeds again once space is freed.
    ///
    /// # Resolution
    /// Free space on the file system that holds the database (and its `-wal` file).
    #[error("disk full: the database could not be written ({0}); nothing was changed")]
    DiskFull(String),
    /// The operating system failed a read or write of the database file. Transient or
    /// permanent depending on the cause.
    ///
    /// # Resolution
    /// Check the file system that holds the database (disk errors, a removed mount).
    #[error("I/O error on the database file ({0}); nothing was changed")]
    Io(String),
    /// The configured database names a backend this build does not have, or no backend at
    /// all. Permanent.
    ///
    /// # Resolution
    /// Set `databasePath` to a file path or a `sqlite:` URL.
    #[error("{0}")]
    Unsupported(String),
}

impl StoreError {
    /// True for errors that mean the database itself could not be written (full disk, I/O),
    /// as opposed to a refused request.
    pub fn is_storage_failure(&self) -> bool {
        matches!(self, StoreError::DiskFull(_) | StoreError::Io(_))
    }
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// At most this many (by name); `None` for all.
    pub limit: Option<usize>,
}

/// Which executions to return, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only this task.
    pub task_id: Option<TaskId>,
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// Only executions scheduled at or after this instant.
    pub since: Option<Timestamp>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

/// Lines to append to one execution's log ([`Store::append_logs`]).
#[derive(Debug, Clone)]
pub struct LogBatch {
    /// The execution.
    pub execution_id: ExecutionId,
    /// When they arrived (the scheduler's clock); every line of the batch gets it.
    pub at: Timestamp,
    /// The lines, oldest first.
    pub lines: Vec<(LogStream, String)>,
}

/// Which lines of an execution's log to read ([`Store::logs`]). Lines come oldest first.
/// The filters apply first (cursor, stream), then `tail` keeps the last N of what matched,
/// then `limit` keeps the first of those.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// The execution.
    pub execution_id: ExecutionId,
    /// Only lines after this one (a [`LogLine::id`]; the cursor of a follow).
    pub after: Option<i64>,
    /// Only lines of this stream.
    pub stream: Option<LogStream>,
    /// Only the last N matching lines.
    pub tail: Option<usize>,
    /// At most this many lines.
    pub limit: usize,
}

impl LogQuery {
    /// Every line of an execution, up to `limit`.
    pub fn all(execution_id: ExecutionId, limit: usize) -> LogQuery {
        LogQuery { execution_id, after: None, stream: None, tail: None, limit }
    }
}

/// Engine settings a claim needs.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The engine's wall-clock now.
    pub now: Timestamp,
    /// Most executions to start (free concurrency).
    pub limit: usize,
    /// Most due tasks to look at in this transaction.
    pub batch: usize,
    /// This engine's node id.
    pub node_id: String,
    /// Occurrences older than `now - misfire_grace` are missed.
    pub misfire_grace: Duration,
    /// Bound of the `run_all` misfire policy.
    pub run_all_limit: u32,
    /// Also claim occurrences due up to this long after `now` (idle tasks only); their rows
    /// carry the planned start and the engine dispatches them at their due instant.
    pub horizon: Duration,
    /// Executions still `running` in the database whose outcome the engine already has and
    /// is retrying to record (a full disk): they have ended, so the overlap check ignores
    /// them.
    pub settled: Vec<ExecutionId>,
}

/// What a claimed execution needs to run.
#[derive(Debug, Clone)]
pub struct ClaimedExecution {
    /// Which execution this is (its row is `running`, or a `queued` claim when claimed
    /// ahead); shared with the bus call and the events.
    pub occurrence: Arc<Occurrence>,
    /// Bus command.
    pub command: String,
    /// Command payload: the task's JSON, serialised once by the store and handed to the bus
    /// as it is (never parsed again on the way).
    pub data: Arc<RawValue>,
    /// Time limit.
    pub timeout: Duration,
    /// Scheduled or manual.
    pub origin: Origin,
    /// When it starts: the claim's now, or the occurrence's instant when claimed ahead.
    pub started_at: Timestamp,
    /// Claimed ahead of its instant: the row is `queued` under this node (not `running`)
    /// until its outcome, or [`Store::mark_claim`] for a run that lasts.
    pub ahead: bool,
}

/// An execution row written without running (skipped, or queued behind a running one), to
/// be announced as an event.
#[derive(Debug, Clone)]
pub struct NotedExecution {
    /// Which execution the row is; shared with its event.
    pub occurrence: Arc<Occurrence>,
    /// `skipped`, `queued` or `cancelled`.
    pub status: ExecutionStatus,
    /// Why.
    pub error: Option<String>,
}

/// The result of one claim transaction.
#[derive(Debug, Clone, Default)]
pub struct ClaimOutcome {
    /// Executions to dispatch now.
    pub claimed: Vec<ClaimedExecution>,
    /// Rows written without running (skipped/queued), for events.
    pub noted: Vec<NotedExecution>,
    /// The earliest instant after `now` at which something becomes due (a queued row, or a
    /// task inside the horizon left for its due time).
    pub next_due: Option<Timestamp>,
    /// The earliest instant at which a task beyond the horizon can be claimed ahead (its due
    /// time less the horizon).
    pub next_ahead: Option<Timestamp>,
    /// True when the batch bound stopped the claim while work may still be due: claim again
    /// at once if there is free capacity.
    pub more_due: bool,
    /// Tasks inside the horizon left alone because they were still running: worth claiming
    /// again shortly, once their runs are recorded.
    pub deferred: usize,
}

/// How an attempt ended, as the engine saw it.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The running execution.
    pub execution_id: ExecutionId,
    /// `completed`, `failed`, `timeout`, `interrupted` or `cancelled`.
    pub status: ExecutionStatus,
    /// When it ended.
    pub finished_at: Timestamp,
    /// Run time.
    pub duration: Duration,
    /// Output JSON on success.
    pub output: Option<serde_json::Value>,
    /// Error text on failure.
    pub error: Option<String>,
    /// False for failures that must not be retried (unknown command, cancelled, a
    /// handler's permanent error).
    pub retryable: bool,
    /// The handler's floor under the retry delay (an HTTP `Retry-After`): the retry waits
    /// for the longer of it and the task's backoff.
    pub retry_not_before: Option<Duration>,
    /// Backoff cap (config).
    pub retry_delay_max: Duration,
    /// Jitter (config).
    pub retry_jitter: bool,
}

/// A retry written by [`Store::finish_executions`] or [`Store::recover`].
#[derive(Debug, Clone)]
pub struct RetryScheduled {
    /// The queued retry row.
    pub execution_id: ExecutionId,
    /// Its attempt number.
    pub attempt: u32,
    /// When it becomes due.
    pub run_at: Timestamp,
}

/// The recorded outcome of an attempt.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The final execution row.
    pub execution: Execution,
    /// Task tenant (empty when the task was deleted).
    pub tenant: String,
    /// The retry, if one was queued.
    pub retry: Option<RetryScheduled>,
    /// True when a once task became `completed`.
    pub task_completed: bool,
    /// True when the task has queued executions (a retry, a queued overlap, a manual run)
    /// that may start now that this one ended.
    pub queued_waiting: bool,
}

/// Result of recording one outcome ([`Store::finish_executions`]).
#[derive(Debug, Clone)]
pub enum FinishOutcome {
    /// Recorded.
    Finished(Box<Finished>),
    /// The row was no longer `running` (another engine recovered it); nothing changed.
    NotRunning,
}

/// Which running executions [`Store::recover`] takes over.
#[derive(Debug, Clone)]
pub struct RecoverRequest {
    /// Now.
    pub now: Timestamp,
    /// Executions running under this node id belonged to a previous life of this engine.
    pub node_id: String,
    /// Executions of other nodes this long past their deadline are taken over too.
    pub stale_after: Duration,
    /// Backoff cap (config).
    pub retry_delay_max: Duration,
    /// Jitter (config).
    pub retry_jitter: bool,
}

/// Result of a manual run request: the row it wrote, as stored (for the caller's answer)
/// and as noted (for its event), so nobody reads it back.
#[derive(Debug, Clone)]
pub struct RunRequested {
    /// The new execution row (`queued`, or `skipped` by the overlap policy).
    pub row: Execution,
    /// The same row with the task's identity, for the event.
    pub execution: NotedExecution,
}

/// A change a command makes to tasks, written with its audit row by
/// [`Store::change_audited`].
#[derive(Debug, Clone)]
pub enum TaskChange {
    /// Create a task.
    Create(NewTask),
    /// Patch a task.
    Update(TaskId, TaskPatch),
    /// Delete a task.
    Delete(TaskId),
    /// Pause a task.
    Pause(TaskId),
    /// Resume a task.
    Resume(TaskId),
    /// Pause every active task (of a tenant).
    PauseAll(Option<String>),
    /// Resume every paused task (of a tenant).
    ResumeAll(Option<String>),
    /// Queue a manual run (see [`Store::request_run`]).
    RequestRun(TaskId),
    /// Cancel an execution that has not ended (`scheduler:cancel`): a queued one (a retry, a
    /// queued overlap, a manual run) becomes `cancelled` and never runs; a running one, or a
    /// claim held by its engine for its instant, is recorded `cancelled` like an outcome
    /// (no retry; counters and once completion follow), and its engine then abandons the
    /// call. Audited with the execution's id and its status before.
    Cancel(ExecutionId),
}

/// Who made a change and what to record about it: one audit row per changed task, stamped
/// with the change's own instant.
#[derive(Debug, Clone)]
pub struct AuditNote {
    /// Who (the caller).
    pub actor: String,
    /// What, e.g. `task.create`.
    pub action: String,
    /// Details (already redacted and bounded by the caller). For a run request the store
    /// adds `execution_id` and `status`.
    pub details: serde_json::Value,
}

/// What [`Store::change_audited`] changed.
#[derive(Debug, Clone)]
pub enum ChangeOutcome {
    /// The created or updated task.
    Task(Box<Task>),
    /// The deleted task; `None` when it did not exist (nothing audited).
    Deleted(Option<Box<Task>>),
    /// The tasks whose status a pause or resume changed; tasks already in the target status
    /// are not listed (and not audited).
    Switched(Vec<Task>),
    /// The manual run's row.
    Run(Box<RunRequested>),
    /// What a cancel did.
    Cancel(CancelOutcome),
}

/// Result of [`TaskChange::Cancel`]; an unknown execution is
/// [`StoreError::ExecutionNotFound`].
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// Recorded `cancelled` (and audited).
    Cancelled {
        /// The recorded outcome (the row, the tenant, queued work that may start now).
        finished: Box<Finished>,
        /// Its status before: `queued` (claimed for its instant or not) or `running`.
        before: ExecutionStatus,
    },
    /// It had already ended (nothing written, nothing audited).
    AlreadyEnded(Box<Execution>),
}

/// Rows deleted by one cleanup batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupBatch {
    /// Execution rows deleted.
    pub executions: u64,
    /// Log rows deleted.
    pub logs: u64,
}

/// A backward wall-clock jump the engine saw, for [`Store::rebase_clock`].
#[derive(Debug, Clone)]
pub struct ClockJump {
    /// The engine's wall clock after the jump.
    pub now: Timestamp,
    /// How far the wall clock went back.
    pub back: Duration,
    /// The engine that saw it.
    pub node_id: String,
}

/// What [`Store::rebase_clock`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockRebased {
    /// The clock epoch opened for the jump; executions written from now on belong to it.
    pub epoch: i64,
    /// Active tasks whose next run moved earlier.
    pub tasks: u64,
    /// Queued executions (retries, backlog) whose due time moved back by the jump.
    pub queued: u64,
}

/// All access to scheduler data.
pub trait Store: Send + Sync + 'static {
    // Tasks.

    /// Creates a task; its first run is computed from `now`. Fails with
    /// [`StoreError::NameTaken`] when the name exists in the tenant.
    fn create_task(&self, task: NewTask, now: Timestamp) -> StoreFuture<Task>;
    /// Creates many tasks in one transaction (imports, benchmarks); all or nothing.
    fn create_tasks(&self, tasks: Vec<NewTask>, now: Timestamp) -> StoreFuture<Vec<TaskId>>;
    /// Finds a task by id or name.
    fn get_task(&self, key: TaskKey) -> StoreFuture<Option<Task>>;
    /// Lists tasks by name.
    fn list_tasks(&self, filter: TaskFilter) -> StoreFuture<Vec<Task>>;
    /// Changes fields; a new schedule recomputes the next run from `now`.
    fn update_task(&self, id: TaskId, patch: TaskPatch, now: Timestamp) -> StoreFuture<Task>;
    /// Deletes a task (see the module docs for what happens to its executions).
    /// Returns false when it did not exist.
    fn delete_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<bool>;
    /// Pauses a task: it stops firing.
    fn pause_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task>;
    /// Resumes a paused task; its next run is recomputed from `now`. Refuses completed tasks.
    fn resume_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task>;

    // History.

    /// One execution.
    fn get_execution(&self, id: ExecutionId) -> StoreFuture<Option<Execution>>;
    /// The retry that follows attempt `id`, if one was written.
    fn next_attempt(&self, id: ExecutionId) -> StoreFuture<Option<Execution>>;
    /// Executions, newest first.
    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<Execution>>;
    /// Statistics of one task, or of all tasks.
    fn stats(&self, task: Option<TaskId>) -> StoreFuture<TaskStats>;
    /// Appends a batch of lines to an execution's log, in order, in one transaction (the
    /// writer's group commit, like every write): all of them or none. Returns how many were
    /// written. An unknown execution is [`StoreError::ExecutionNotFound`].
    fn append_logs(&self, batch: LogBatch) -> StoreFuture<u64>;
    /// Lines of an execution's log, oldest first (see [`LogQuery`]).
    fn logs(&self, query: LogQuery) -> StoreFuture<Vec<LogLine>>;
    /// Audit records, newest first.
    fn audit(&self, task: Option<TaskId>, limit: usize) -> StoreFuture<Vec<AuditEntry>>;
    /// Makes a change and writes its audit rows (one per task it changed, at `now`) in one
    /// transaction: both commit or neither does. A change that changes nothing (pausing a
    /// paused task) writes no audit row. This is the only way an audit row is written:
    /// bulk pauses and resumes (`PauseAll`, `ResumeAll`) go through it too.
    fn change_audited(&self, change: TaskChange, audit: AuditNote, now: Timestamp) -> StoreFuture<ChangeOutcome>;

    // Engine.

    /// Claims due work (see the module docs). One transaction.
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<ClaimOutcome>;
    /// Queues a manual run of a task, respecting its overlap policy: the row is `queued`
    /// (the engine starts it) or `skipped`. One transaction.
    fn request_run(&self, id: TaskId, now: Timestamp) -> StoreFuture<RunRequested>;
    /// Records the outcomes of attempts, in one transaction. Each is recorded or refused on
    /// its own: the answer holds one result per outcome, in order, and a refused one (an
    /// error in its own statements) leaves the others recorded. The outer error is a failure
    /// of the whole transaction (a full disk, a closed store): nothing was recorded.
    fn finish_executions(&self, finishes: Vec<Finish>) -> StoreFuture<Vec<Result<FinishOutcome, StoreError>>>;

    /// Records one attempt's outcome: [`Store::finish_executions`] of one.
    fn finish_execution(&self, finish: Finish) -> StoreFuture<FinishOutcome> {
        let batch = self.finish_executions(vec![finish]);
        Box::pin(async move {
            batch.await?.pop().unwrap_or_else(|| Err(StoreError::Database("the store answered no outcome".to_owned())))
        })
    }
    /// Settles an execution claimed ahead (still `queued` under this node): `dispatched`
    /// marks it `running` (its command has been running a while); otherwise it goes back to the queue
    /// as the same attempt, for any engine to run. False when the row was not such a claim.
    fn mark_claim(&self, id: ExecutionId, dispatched: bool) -> StoreFuture<bool>;
    /// Cancels a queued execution; false when it was not queued.
    fn cancel_queued(&self, id: ExecutionId, now: Timestamp) -> StoreFuture<bool>;
    /// Marks executions of a dead engine `interrupted` and queues their retries.
    fn recover(&self, request: RecoverRequest) -> StoreFuture<Vec<Finished>>;
    /// Deletes up to `batch` finished executions and `batch` log lines older than `before`.
    fn cleanup(&self, before: Timestamp, batch: usize) -> StoreFuture<CleanupBatch>;

    // Clock.

    /// After a backward wall-clock jump: opens a new clock epoch, recomputes the next run of
    /// every active cron and interval task from `jump.now`, and moves queued executions due
    /// later back by the jump (the rules are in `engine::clock_jump`). One transaction.
    fn rebase_clock(&self, jump: ClockJump) -> StoreFuture<ClockRebased>;
}
