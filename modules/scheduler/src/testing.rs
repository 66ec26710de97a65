//! Test support: a fake bus with scripted commands and a store wrapper for paused-clock
//! tests. Used by this crate's tests and, with the `testing` feature, by other crates';
//! it is not compiled into the production library.
//!
//! [`FakeBus`] records every dispatch (with the wall time it arrived) and every published
//! event. Commands behave as registered with [`FakeBus::on`]; an unregistered command is
//! unknown.
//!
//! [`PausedClockStore`] exists because tokio's paused clock auto-advances whenever the
//! runtime is idle, including while a future waits for the store's threads: time would jump
//! to the next timer in the middle of a claim. Wrapped, every store call runs on tokio's
//! blocking pool, which holds auto-advance off until the call returns.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::engine::{BoxFuture, DispatchError, TaskBus, TaskCall, TaskEvent};
use crate::store::{
    AuditNote, ChangeOutcome, ClaimOutcome, ClaimRequest, CleanupBatch, ClockJump, ClockRebased, Finish, FinishOutcome,
    Finished, HistoryQuery, LogBatch, LogQuery, RecoverRequest, RunRequested, Store, StoreError, StoreFuture,
    TaskChange, TaskFilter,
};
use crate::task::{
    AuditEntry, Execution, ExecutionId, LogLine, NewTask, Task, TaskId, TaskKey, TaskPatch, TaskStats, Trigger,
};

/// How a fake command behaves on one call.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Returns this output at once.
    Succeed(serde_json::Value),
    /// Fails at once.
    Fail(String),
    /// Never returns; notices its cancellation.
    Hang,
    /// Returns `{}` after this long (tokio time), unless cancelled.
    Take(Duration),
    /// Fails after this long.
    FailAfter(Duration),
    /// Fails at once with this error (a handler's details and retry advice).
    Reject(DispatchError),
    /// Plays these in order, one per call, then repeats the last.
    Script(Vec<Behaviour>),
}

/// One recorded dispatch.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// Command.
    pub command: String,
    /// Payload.
    pub data: serde_json::Value,
    /// Wall time (the bus's clock) when it arrived.
    pub at: Timestamp,
    /// Execution id (the call's correlation id).
    pub execution_id: ExecutionId,
    /// Occurrence.
    pub scheduled_for: Timestamp,
    /// Attempt.
    pub attempt: u32,
    /// Trigger.
    pub trigger: Trigger,
    /// The call's cancel token.
    pub cancel: CancellationToken,
    /// When the handler saw the cancellation, if it did.
    pub cancelled_at: Arc<Mutex<Option<Timestamp>>>,
    /// Timeout the engine gave it.
    pub timeout: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// An in-process bus for tests.
pub struct FakeBus {
    clock: Arc<dyn Clock>,
    commands: Mutex<HashMap<String, VecDeque<Behaviour>>>,
    calls: Mutex<Vec<RecordedCall>>,
    events: Mutex<Vec<(String, serde_json::Value)>>,
}

impl FakeBus {
    /// A bus with no commands, stamping calls with `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> FakeBus {
        FakeBus {
            clock,
            commands: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Registers (or replaces) a command.
    pub fn on(&self, command: &str, behaviour: Behaviour) -> &FakeBus {
        let queue = match behaviour {
            Behaviour::Script(steps) => steps.into_iter().collect(),
            single => VecDeque::from([single]),
        };
        lock(&self.commands).insert(command.to_owned(), queue);
        self
    }

    /// All calls so far.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.calls).clone()
    }

    /// Calls of one command.
    pub fn calls_of(&self, command: &str) -> Vec<RecordedCall> {
        self.calls().into_iter().filter(|call| call.command == command).collect()
    }

    /// All published events, as `(name, payload)`.
    pub fn events(&self) -> Vec<(String, serde_json::Value)> {
        lock(&self.events).clone()
    }

    /// The `event` fields of `task-event`s about one execution, in order.
    pub fn event_kinds(&self, execution: ExecutionId) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|(_, payload)| payload["execution_id"] == execution.0)
            .map(|(_, payload)| payload["event"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn next_behaviour(&self, command: &str) -> Option<Behaviour> {
        let mut commands = lock(&self.commands);
        let queue = commands.get_mut(command)?;
        if queue.len() > 1 { queue.pop_front() } else { queue.front().cloned() }
    }
}

async fn hang_until_cancelled(
    cancel: CancellationToken,
    clock: Arc<dyn Clock>,
    cancelled_at: Arc<Mutex<Option<Timestamp>>>,
) -> Result<serde_json::Value, DispatchError> {
    cancel.cancelled().await;
    *lock(&cancelled_at) = Some(clock.now());
    Err(DispatchError::Cancelled)
}

impl TaskBus for FakeBus {
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>> {
        let cancelled_at = Arc::new(Mutex::new(None));
        lock(&self.calls).push(RecordedCall {
            command: call.command.clone(),
            data: serde_json::from_str(call.data.get())
                .unwrap_or_else(|error| serde_json::Value::String(format!("<not JSON: {error}>"))),
            at: self.clock.now(),
            execution_id: call.occurrence.execution_id,
            scheduled_for: call.occurrence.scheduled_for,
            attempt: call.occurrence.attempt,
            trigger: call.occurrence.trigger,
            cancel: call.cancel.clone(),
            cancelled_at: cancelled_at.clone(),
            timeout: call.timeout,
        });
        let behaviour = self.next_behaviour(&call.command);
        let clock = self.clock.clone();
        let cancel = call.cancel;
        // Like a real bus, the handler runs on its own: abandoning the dispatch future does
        // not stop it, only the cancel token does.
        let handler = tokio::spawn(async move {
            match behaviour {
                None => Err(DispatchError::UnknownCommand {
                    command: call.command,
                    message: "no module owns this command".to_owned(),
                }),
                Some(Behaviour::Succeed(output)) => Ok(output),
                Some(Behaviour::Fail(message)) => Err(DispatchError::failed("test_failure", message)),
                Some(Behaviour::Hang) => hang_until_cancelled(cancel, clock, cancelled_at).await,
                Some(Behaviour::Take(duration)) | Some(Behaviour::FailAfter(duration)) => {
                    let fail = matches!(behaviour, Some(Behaviour::FailAfter(_)));
                    tokio::select! {
                        () = tokio::time::sleep(duration) => if fail {
                            Err(DispatchError::failed("test_failure", "failed late"))
                        } else {
                            Ok(serde_json::json!({}))
                        },
                        result = hang_until_cancelled(cancel.clone(), clock, cancelled_at) => result,
                    }
                }
                Some(Behaviour::Reject(error)) => Err(error),
                Some(Behaviour::Script(_)) => {
                    Err(DispatchError::failed("test_setup", "nested scripts are not supported"))
                }
            }
        });
        Box::pin(async move { handler.await.unwrap_or(Err(DispatchError::Cancelled)) })
    }

    fn publish(&self, event: &TaskEvent) {
        // The same conversion as the real bus, so tests see the published payload.
        let payload = serde_json::to_value(crate::host_bus::task_execution_event(event))
            .expect("invariant: an execution event is plain JSON");
        lock(&self.events).push((scheduler_api::runs::TASK_EVENT.to_owned(), payload));
    }
}

/// Wraps a store so that paused-clock tests do not auto-advance during store calls.
///
/// It can also inject a store fault: [`PausedClockStore::fail_finishes`] makes the next
/// recordings of an outcome fail as a full disk does, without touching the database.
pub struct PausedClockStore {
    inner: Arc<dyn Store>,
    // Invariant: how many of the next recorded outcomes fail with `DiskFull`.
    failing_finishes: std::sync::atomic::AtomicUsize,
    // Invariant: how many `finish_executions` calls were made.
    finish_batches: std::sync::atomic::AtomicUsize,
}

impl PausedClockStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> PausedClockStore {
        PausedClockStore {
            inner,
            failing_finishes: std::sync::atomic::AtomicUsize::new(0),
            finish_batches: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Makes the next `count` outcomes recorded fail with
    /// [`StoreError::DiskFull`], as on a full disk (nothing is written).
    pub fn fail_finishes(&self, count: usize) {
        self.failing_finishes.store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many batches of outcomes (`finish_executions` calls) the store was given.
    pub fn finish_batches(&self) -> usize {
        self.finish_batches.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many injected failures are still to come.
    pub fn failures_left(&self) -> usize {
        self.failing_finishes.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn inhibit<T: Send + 'static>(future: StoreFuture<T>) -> StoreFuture<T> {
    Box::pin(async move {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || handle.block_on(future)).await.unwrap_or(Err(StoreError::Closed))
    })
}

impl Store for PausedClockStore {
    fn create_task(&self, task: NewTask, now: Timestamp) -> StoreFuture<Task> {
        inhibit(self.inner.create_task(task, now))
    }
    fn create_tasks(&self, tasks: Vec<NewTask>, now: Timestamp) -> StoreFuture<Vec<TaskId>> {
        inhibit(self.inner.create_tasks(tasks, now))
    }
    fn get_task(&self, key: TaskKey) -> StoreFuture<Option<Task>> {
        inhibit(self.inner.get_task(key))
    }
    fn list_tasks(&self, filter: TaskFilter) -> StoreFuture<Vec<Task>> {
        inhibit(self.inner.list_tasks(filter))
    }
    fn update_task(&self, id: TaskId, patch: TaskPatch, now: Timestamp) -> StoreFuture<Task> {
        inhibit(self.inner.update_task(id, patch, now))
    }
    fn delete_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<bool> {
        inhibit(self.inner.delete_task(id, now))
    }
    fn pause_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task> {
        inhibit(self.inner.pause_task(id, now))
    }
    fn resume_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task> {
        inhibit(self.inner.resume_task(id, now))
    }
    fn get_execution(&self, id: ExecutionId) -> StoreFuture<Option<Execution>> {
        inhibit(self.inner.get_execution(id))
    }
    fn next_attempt(&self, id: ExecutionId) -> StoreFuture<Option<Execution>> {
        inhibit(self.inner.next_attempt(id))
    }
    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<Execution>> {
        inhibit(self.inner.history(query))
    }
    fn stats(&self, task: Option<TaskId>) -> StoreFuture<TaskStats> {
        inhibit(self.inner.stats(task))
    }
    fn append_logs(&self, batch: LogBatch) -> StoreFuture<u64> {
        inhibit(self.inner.append_logs(batch))
    }
    fn logs(&self, query: LogQuery) -> StoreFuture<Vec<LogLine>> {
        inhibit(self.inner.logs(query))
    }
    fn audit(&self, task: Option<TaskId>, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        inhibit(self.inner.audit(task, limit))
    }
    fn change_audited(&self, change: TaskChange, audit: AuditNote, now: Timestamp) -> StoreFuture<ChangeOutcome> {
        inhibit(self.inner.change_audited(change, audit, now))
    }
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<ClaimOutcome> {
        inhibit(self.inner.claim_due(request))
    }
    fn request_run(&self, id: TaskId, now: Timestamp) -> StoreFuture<RunRequested> {
        inhibit(self.inner.request_run(id, now))
    }
    fn finish_executions(&self, finishes: Vec<Finish>) -> StoreFuture<Vec<Result<FinishOutcome, StoreError>>> {
        self.finish_batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Each outcome in turn takes one injected failure while any are left; the others
        // go to the real store as one batch, and the answers are merged back in order.
        let injected: Vec<bool> = finishes
            .iter()
            .map(|_| {
                self.failing_finishes
                    .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |left| {
                        left.checked_sub(1)
                    })
                    .is_ok()
            })
            .collect();
        let passed: Vec<Finish> =
            finishes.into_iter().zip(&injected).filter(|(_, injected)| !**injected).map(|(finish, _)| finish).collect();
        let inner = (!passed.is_empty()).then(|| inhibit(self.inner.finish_executions(passed)));
        Box::pin(async move {
            let mut answered = match inner {
                Some(inner) => inner.await?.into_iter(),
                None => Vec::new().into_iter(),
            };
            Ok(injected
                .into_iter()
                .map(|injected| {
                    if injected {
                        Err(StoreError::DiskFull("injected by the test store".to_owned()))
                    } else {
                        answered.next().unwrap_or(Err(StoreError::Closed))
                    }
                })
                .collect())
        })
    }
    fn mark_claim(&self, id: ExecutionId, dispatched: bool) -> StoreFuture<bool> {
        inhibit(self.inner.mark_claim(id, dispatched))
    }
    fn cancel_queued(&self, id: ExecutionId, now: Timestamp) -> StoreFuture<bool> {
        inhibit(self.inner.cancel_queued(id, now))
    }
    fn recover(&self, request: RecoverRequest) -> StoreFuture<Vec<Finished>> {
        inhibit(self.inner.recover(request))
    }
    fn cleanup(&self, before: Timestamp, batch: usize) -> StoreFuture<CleanupBatch> {
        inhibit(self.inner.cleanup(before, batch))
    }
    fn rebase_clock(&self, jump: ClockJump) -> StoreFuture<ClockRebased> {
        inhibit(self.inner.rebase_clock(jump))
    }
}
