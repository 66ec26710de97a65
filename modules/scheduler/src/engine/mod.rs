//! The tick engine: wakes at the earliest due time or every `tickInterval`, whichever comes
//! first, claims due work in one store transaction, dispatches each claimed execution on the
//! [`TaskBus`] within `maxConcurrentTasks`, and records the outcome.
//!
//! ```text
//!            ┌──────── wake: earliest due │ tick │ run_now/finish/wake() ────────┐
//!            ▼                                                                  │
//!   claim_due (1 tx: rows + next_run_at) ──▶ spawn execute ──▶ bus.dispatch ──▶ recorder
//!                                                            (timeout, cancel)  (1 tx per batch of
//!                                                                               outcomes: rows,
//!                                                                               counters, retries)
//! ```
//!
//! Claim ahead: a claim also takes occurrences due within `claimAhead` (default 500 ms) of
//! tasks that are idle, writing their rows with the planned start. The dispatcher holds them
//! and, on the instant, calls `bus.dispatch` for every execution due then before doing any
//! bookkeeping, so starts stay on time even when the database is busy. A busy task is not
//! claimed ahead: its overlap policy is applied at its due time. Consequence: an occurrence
//! claimed ahead still runs if its task is paused or changed in the last `claimAhead` before
//! it (as if the pause came just after it started); set `claimAhead: 0` to claim only what
//! is due. A delete (through `scheduler:delete`, which calls [`EngineHandle::cancel_task`])
//! or a `scheduler:cancel` of it does stop it.
//!
//! Time: the engine reads wall time from its [`Clock`] and sleeps with `tokio::time`, so a
//! paused tokio clock plus [`crate::clock::TestClock`] drives it in tests. The claim loop
//! never sleeps longer than `tickInterval`; at each wake it compares the two clocks, and when
//! the wall clock went back it recomputes next fire times from the new time (rules and
//! timeline in `clock_jump.rs`: re-lived instants of frequent tasks fire again in a new clock
//! epoch, a task that would re-live one occurrence it already fired skips it).
//!
//! Start: [`Engine::start`] first recovers executions left `running` by a previous life of
//! this node (or stale ones of any node): they become `interrupted` and follow the retry
//! policy. Occurrences missed while down are found by the normal claim, which applies each
//! task's misfire policy to occurrences later than `misfireGrace`.
//!
//! Store failures: an outcome that cannot be recorded (a full disk) is kept in memory and
//! recorded again every `min(100 ms × n, tickInterval)` until it is, so firing resumes
//! within a tick of space returning and the command never runs twice for it. Meanwhile the
//! claim's overlap check ignores that execution (its row still says `running`, but it has
//! ended), so later occurrences are not skipped because of it. Only a stopping engine gives
//! up (after a few attempts); the row is then recovered as `interrupted` at the next start.
//!
//! Stop: [`Engine::stop`] stops claiming, waits up to `shutdownGrace` for running
//! executions (and those claimed ahead, which start on their instant meanwhile) to end on
//! their own, then cancels the rest; those are recorded `interrupted` and get a durable
//! retry (if the task has retries left) that runs after the next start.
//! Dropping an [`Engine`] without `stop` is a crash: nothing more is recorded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::SchedulerConfig;
use crate::store::{
    AuditNote, CancelOutcome, ChangeOutcome, ClaimRequest, Finished, RecoverRequest, RunRequested, Store, StoreError,
    TaskChange,
};
use crate::task::{Execution, ExecutionId, TaskId};

pub mod bus;
mod cleanup;
mod clock_jump;
pub mod events;
mod recorder;
mod run;

pub use bus::{BoxFuture, DispatchError, TaskBus, TaskCall};
pub use events::{TaskEvent, TaskEventKind};

/// Most due tasks one claim transaction examines.
const CLAIM_BATCH: usize = 256;

/// How soon to claim again when tasks inside the claim-ahead horizon were still running.
const DEFERRED_RETRY: Duration = Duration::from_millis(25);

/// Engine errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The store failed; see [`StoreError`] for which are transient.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such execution. Permanent.
    #[error("execution {0} not found")]
    ExecutionNotFound(ExecutionId),
    /// The configuration was refused. Permanent.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Why a running execution's cancel token was fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum CancelReason {
    None = 0,
    /// A user asked (recorded `cancelled`, no retry).
    Request = 1,
    /// The engine stopped (recorded `interrupted`, retried after restart).
    Stop = 2,
}

struct RunningEntry {
    task_id: TaskId,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
}

type Waiters = HashMap<ExecutionId, Vec<oneshot::Sender<Execution>>>;

struct Shared {
    config: SchedulerConfig,
    store: Arc<dyn Store>,
    bus: Arc<dyn TaskBus>,
    clock: Arc<dyn Clock>,
    /// Wakes the claim loop early.
    wake: Notify,
    /// Fired by `stop`: no more claims.
    shutdown: CancellationToken,
    /// Fired when the engine is dropped: executions stop without recording (a crash).
    kill: CancellationToken,
    tracker: TaskTracker,
    // Invariant: equals the number of spawned executions that have not yet ended (or whose
    // outcome is not yet queued on the store); a claim never asks for more than
    // `max_concurrent_tasks` minus this.
    running_count: AtomicUsize,
    /// Set when the last claim stopped at the concurrency limit: finishes must wake the loop.
    saturated: AtomicBool,
    running: Mutex<HashMap<ExecutionId, RunningEntry>>,
    waiters: Mutex<Waiters>,
    /// Executions claimed ahead, by planned start; owned by the dispatcher.
    pending: Mutex<BTreeMap<(Timestamp, ExecutionId), run::Prepared>>,
    /// Wakes the dispatcher (new entry, cancellation).
    pending_changed: Notify,
    /// Set when a cancel may concern a pending execution: the dispatcher then looks for
    /// cancelled entries (otherwise it never scans the queue).
    pending_cancelled: AtomicBool,
    /// Notified when the running count drops to zero.
    idle: Notify,
    /// Executions that have ended but whose outcome is not recorded yet (queued on the
    /// store's writer, or refused by a full disk and retried): claims do not count their
    /// rows as running.
    unrecorded: Mutex<HashSet<ExecutionId>>,
    /// Writes outcomes in batches.
    recorder: recorder::Recorder,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Shared {
    fn notify_waiters(&self, execution: &Execution) {
        if let Some(waiters) = lock(&self.waiters).remove(&execution.id) {
            for waiter in waiters {
                let _ = waiter.send(execution.clone());
            }
        }
    }
}

/// A running engine. Dropping it without [`Engine::stop`] simulates a crash.
pub struct Engine {
    shared: Arc<Shared>,
    claim_loop: Option<JoinHandle<()>>,
    cleanup_loop: Option<JoinHandle<()>>,
    dispatcher: Option<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
}

/// What [`Engine::stop`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopReport {
    /// Executions that ended on their own within the grace period.
    pub finished: usize,
    /// Executions cancelled when the grace period ran out (recorded `interrupted`).
    pub interrupted: usize,
}

impl Engine {
    /// Recovers runs of a previous life of this node, then starts the claim and cleanup
    /// loops on the current tokio runtime.
    pub async fn start(
        config: SchedulerConfig,
        store: Arc<dyn Store>,
        bus: Arc<dyn TaskBus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, EngineError> {
        config.validate()?;
        let (recorder, recording) = recorder::Recorder::start(store.clone());
        let shared = Arc::new(Shared {
            config,
            store,
            bus,
            clock,
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
            kill: CancellationToken::new(),
            tracker: TaskTracker::new(),
            running_count: AtomicUsize::new(0),
            saturated: AtomicBool::new(false),
            running: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            pending: Mutex::new(BTreeMap::new()),
            pending_changed: Notify::new(),
            pending_cancelled: AtomicBool::new(false),
            idle: Notify::new(),
            unrecorded: Mutex::new(HashSet::new()),
            recorder,
        });
        let config = &shared.config;
        let recovered = shared
            .store
            .recover(RecoverRequest {
                now: shared.clock.now(),
                node_id: config.node_id.clone(),
                stale_after: Duration::from_millis(config.misfire_grace),
                retry_delay_max: Duration::from_millis(config.retry_delay_max),
                retry_jitter: config.retry_jitter,
            })
            .await;
        let recovered = match recovered {
            Ok(recovered) => recovered,
            Err(error) => {
                recording.abort();
                return Err(error.into());
            }
        };
        for finished in &recovered {
            run::announce_finished(&shared, finished);
        }
        if !recovered.is_empty() {
            tracing::warn!(count = recovered.len(), "Recovered interrupted executions.");
        }
        let claim_loop = tokio::spawn(claim_loop(shared.clone()));
        let cleanup_loop = tokio::spawn(cleanup::cleanup_loop(shared.clone()));
        let dispatcher = tokio::spawn(run::dispatcher(shared.clone()));
        Ok(Engine {
            shared,
            claim_loop: Some(claim_loop),
            cleanup_loop: Some(cleanup_loop),
            dispatcher: Some(dispatcher),
            recorder: Some(recording),
        })
    }

    /// A cloneable handle for commands: run now, await, cancel, wake.
    pub fn handle(&self) -> EngineHandle {
        EngineHandle { shared: self.shared.clone() }
    }

    /// Stops claiming, waits up to `shutdownGrace` for running executions, then cancels the
    /// rest (recorded `interrupted`, with a durable retry when the task has retries left).
    pub async fn stop(mut self) -> StopReport {
        let shared = self.shared.clone();
        shared.shutdown.cancel();
        if let Some(claim_loop) = self.claim_loop.take() {
            let _ = claim_loop.await;
        }
        if let Some(cleanup_loop) = self.cleanup_loop.take() {
            cleanup_loop.abort();
        }
        let before = shared.running_count.load(Ordering::SeqCst);
        let grace = Duration::from_millis(shared.config.shutdown_grace);
        let mut interrupted = 0;
        if tokio::time::timeout(grace, wait_idle(&shared)).await.is_err() {
            for entry in lock(&shared.running).values() {
                entry.reason.store(CancelReason::Stop as u8, Ordering::SeqCst);
                entry.cancel.cancel();
                interrupted += 1;
            }
            shared.pending_cancelled.store(true, Ordering::SeqCst);
            shared.pending_changed.notify_one();
            wait_idle(&shared).await;
        }
        shared.tracker.close();
        shared.tracker.wait().await;
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.abort();
        }
        // Every execution has had its outcome answered (or given up): nothing is queued.
        if let Some(recorder) = self.recorder.take() {
            recorder.abort();
        }
        StopReport { finished: before.saturating_sub(interrupted), interrupted }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        self.shared.kill.cancel();
        if let Some(claim_loop) = self.claim_loop.take() {
            claim_loop.abort();
        }
        if let Some(cleanup_loop) = self.cleanup_loop.take() {
            cleanup_loop.abort();
        }
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.abort();
        }
        if let Some(recorder) = self.recorder.take() {
            recorder.abort();
        }
        // Not-yet-dispatched executions hold the shared state; a crash forgets them.
        lock(&self.shared.pending).clear();
    }
}

/// Resolves when no execution is running or waiting for its instant.
async fn wait_idle(shared: &Shared) {
    loop {
        let notified = shared.idle.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.running_count.load(Ordering::SeqCst) == 0 {
            return;
        }
        notified.await;
    }
}

/// A cloneable handle to a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    shared: Arc<Shared>,
}

impl EngineHandle {
    /// Asks for a manual run of a task (trigger `manual`), following its overlap policy: the
    /// run is queued and started within milliseconds, or recorded `skipped`. Returns the
    /// execution row as written either way (the store's answer: nothing reads it back).
    pub async fn run_now(&self, task: TaskId) -> Result<Execution, EngineError> {
        let shared = &self.shared;
        let requested = shared.store.request_run(task, shared.clock.now()).await?;
        Ok(self.requested(requested))
    }

    /// Like [`EngineHandle::run_now`], writing the request's audit row in the same
    /// transaction as its execution row (both or neither).
    pub async fn run_now_audited(&self, task: TaskId, audit: AuditNote) -> Result<Execution, EngineError> {
        let shared = &self.shared;
        let now = shared.clock.now();
        match shared.store.change_audited(TaskChange::RequestRun(task), audit, now).await? {
            ChangeOutcome::Run(requested) => Ok(self.requested(*requested)),
            _ => {
                Err(EngineError::Store(StoreError::Database("the store answered another change than a run".to_owned())))
            }
        }
    }

    /// Announces a requested run (a skip is an event) and wakes the claim loop.
    fn requested(&self, requested: RunRequested) -> Execution {
        let shared = &self.shared;
        if let Some(event) = TaskEvent::noted(&requested.execution, shared.clock.now()) {
            event.emit(shared.bus.as_ref());
        }
        shared.wake.notify_one();
        requested.row
    }

    /// Waits until execution `id` has ended (any final status) and returns its row.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future only stops waiting.
    pub async fn await_execution(&self, id: ExecutionId) -> Result<Execution, EngineError> {
        let shared = &self.shared;
        loop {
            let (sender, receiver) = oneshot::channel();
            {
                let mut waiters = lock(&shared.waiters);
                let list = waiters.entry(id).or_default();
                list.retain(|waiter| !waiter.is_closed());
                list.push(sender);
            }
            match shared.store.get_execution(id).await? {
                None => return Err(EngineError::ExecutionNotFound(id)),
                Some(execution) if execution.status.is_final() => return Ok(execution),
                Some(_) => {}
            }
            // Another engine may run it: poll at the tick as well.
            tokio::select! {
                ended = receiver => if let Ok(execution) = ended { return Ok(execution) },
                () = tokio::time::sleep(shared.config.tick()) => {}
            }
        }
    }

    /// Waits until the run that execution `id` starts has ended, following its retries, and
    /// returns the last attempt (for `scheduler:run --wait`).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn await_run(&self, id: ExecutionId) -> Result<Execution, EngineError> {
        let mut id = id;
        loop {
            let execution = self.await_execution(id).await?;
            if execution.status.is_failure()
                && let Some(next) = self.shared.store.next_attempt(execution.id).await?
            {
                id = next.id;
                continue;
            }
            return Ok(execution);
        }
    }

    /// Cancels an execution: a running one on this engine is abandoned (its cancel token
    /// fires; recorded `cancelled`, no retry), a queued one is marked `cancelled`. Returns
    /// false when it was neither.
    pub async fn cancel(&self, id: ExecutionId) -> Result<bool, EngineError> {
        let shared = &self.shared;
        if let Some(entry) = lock(&shared.running).get(&id) {
            entry.reason.store(CancelReason::Request as u8, Ordering::SeqCst);
            entry.cancel.cancel();
            shared.pending_cancelled.store(true, Ordering::SeqCst);
            shared.pending_changed.notify_one();
            return Ok(true);
        }
        Ok(shared.store.cancel_queued(id, shared.clock.now()).await?)
    }

    /// Cancels an execution for `scheduler:cancel`: the store records it `cancelled` with the
    /// request's audit row in one transaction ([`TaskChange::Cancel`]), then, when this
    /// engine holds it (running, or claimed for its instant, which then never dispatches),
    /// the call's cancellation fires. Publishes the `cancelled` event and wakes waiters and,
    /// when queued work of the task may start now, the claim loop. The engine's own outcome
    /// for the abandoned call finds the row ended and is dropped.
    pub async fn cancel_audited(&self, id: ExecutionId, audit: AuditNote) -> Result<CancelOutcome, EngineError> {
        let shared = &self.shared;
        let now = shared.clock.now();
        match shared.store.change_audited(TaskChange::Cancel(id), audit, now).await? {
            ChangeOutcome::Cancel(outcome) => {
                if let CancelOutcome::Cancelled { finished, .. } = &outcome {
                    self.cancel_recorded(finished);
                }
                Ok(outcome)
            }
            _ => Err(EngineError::Store(StoreError::Database(
                "the store answered another change than a cancel".to_owned(),
            ))),
        }
    }

    fn cancel_recorded(&self, finished: &Finished) {
        let shared = &self.shared;
        if let Some(entry) = lock(&shared.running).get(&finished.execution.id) {
            entry.reason.store(CancelReason::Request as u8, Ordering::SeqCst);
            entry.cancel.cancel();
            shared.pending_cancelled.store(true, Ordering::SeqCst);
            shared.pending_changed.notify_one();
        }
        run::announce_finished(shared, finished);
        if finished.queued_waiting {
            shared.wake.notify_one();
        }
    }

    /// Cancels every execution of a task running on this engine (after a delete); returns
    /// how many.
    pub fn cancel_task(&self, task: &TaskId) -> usize {
        let running = lock(&self.shared.running);
        let mut cancelled = 0;
        for entry in running.values().filter(|entry| &entry.task_id == task) {
            entry.reason.store(CancelReason::Request as u8, Ordering::SeqCst);
            entry.cancel.cancel();
            cancelled += 1;
        }
        self.shared.pending_cancelled.store(true, Ordering::SeqCst);
        self.shared.pending_changed.notify_one();
        cancelled
    }

    /// Wakes the claim loop now (call after creating, updating or resuming tasks, so a task
    /// due before the next tick is not late).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Whether the engine was asked to stop (it claims nothing more).
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.is_cancelled()
    }

    /// Executions running on this engine.
    pub fn running(&self) -> usize {
        self.shared.running_count.load(Ordering::SeqCst)
    }

    /// The engine's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }
}

fn until(clock: &dyn Clock, at: Timestamp) -> Duration {
    let left = at.duration_since(clock.now());
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

async fn claim_loop(shared: Arc<Shared>) {
    let config = &shared.config;
    let tick = config.tick();
    let max = config.max_concurrent_tasks;
    // Claims ahead are spaced by at least half the horizon, so tasks spread over time are
    // claimed in batches rather than one claim per task (each is still claimed at least half
    // a horizon before its instant).
    let ahead_spacing = Duration::from_millis(config.claim_ahead / 2);
    let mut last_claim = tokio::time::Instant::now();
    let mut clock_watch = clock_jump::ClockWatch::new(shared.clock.now());
    loop {
        if shared.shutdown.is_cancelled() {
            return;
        }
        clock_watch.check(&shared).await;
        let running = shared.running_count.load(Ordering::SeqCst);
        let free = max.saturating_sub(running);
        let mut next_due = None;
        let mut next_ahead = None;
        let mut again = false;
        let mut deferred = false;
        if free == 0 {
            shared.saturated.store(true, Ordering::SeqCst);
        } else {
            let request = ClaimRequest {
                now: shared.clock.now(),
                limit: free,
                batch: CLAIM_BATCH,
                node_id: config.node_id.clone(),
                misfire_grace: Duration::from_millis(config.misfire_grace),
                run_all_limit: config.misfire_run_all_limit,
                horizon: Duration::from_millis(config.claim_ahead),
                settled: lock(&shared.unrecorded).iter().copied().collect(),
            };
            match shared.store.claim_due(request).await {
                Ok(outcome) => {
                    shared.saturated.store(outcome.claimed.len() >= free, Ordering::SeqCst);
                    for row in &outcome.noted {
                        if let Some(event) = TaskEvent::noted(row, shared.clock.now()) {
                            event.emit(shared.bus.as_ref());
                        }
                    }
                    for claim in outcome.claimed {
                        run::spawn(&shared, claim);
                    }
                    next_due = outcome.next_due;
                    next_ahead = outcome.next_ahead;
                    last_claim = tokio::time::Instant::now();
                    again = outcome.more_due;
                    deferred = outcome.deferred > 0;
                }
                Err(error) => {
                    tracing::warn!(%error, "Claiming due tasks failed; retrying at the next tick.");
                }
            }
        }
        if again && shared.running_count.load(Ordering::SeqCst) < max {
            tokio::task::yield_now().await;
            continue;
        }
        let mut wait = next_due.map_or(tick, |due| until(shared.clock.as_ref(), due).min(tick));
        if let Some(ahead) = next_ahead {
            let spaced = (last_claim + ahead_spacing).saturating_duration_since(tokio::time::Instant::now());
            wait = wait.min(until(shared.clock.as_ref(), ahead).max(spaced));
        }
        if deferred {
            wait = wait.min(DEFERRED_RETRY);
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.wake.notified() => {}
            () = shared.shutdown.cancelled() => return,
        }
    }
}
