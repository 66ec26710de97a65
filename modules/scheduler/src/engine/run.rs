//! One execution: dispatch on the bus under the task's timeout, then record the outcome.
//!
//! Executions claimed ahead of their instant wait in the dispatcher's queue (one timer for
//! all of them, not one per execution): at the instant it calls `bus.dispatch` for every
//! execution due, in one tight loop, and only then spawns the tasks that await the results
//! and record them. Executions claimed at or after their instant are dispatched at once.
//!
//! Invariant: when an attempt did not complete, its cancel token is fired *before* the
//! outcome (and so the retry row) is recorded: a retry never starts while the abandoned
//! attempt is still being asked to run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use systemprompt_module_sdk::RetryHint;
use systemprompt_module_sdk::error::code;
use tokio_util::sync::CancellationToken;

use super::bus::{BoxFuture, DispatchError, TaskCall};
use super::events::{TaskEvent, TaskEventKind};
use super::{CancelReason, RunningEntry, Shared, lock, until};
use crate::store::{ClaimedExecution, Finish, FinishOutcome, Finished};
use crate::task::{ExecutionId, ExecutionStatus, Occurrence, Trigger};

/// Store attempts to record an outcome before a *stopping* engine gives up (the row then
/// stays `running` and is recovered as `interrupted` at the next start). A running engine
/// never gives up: the outcome is kept in memory until the store takes it.
const RECORD_ATTEMPTS: u32 = 5;

/// How long a run claimed ahead runs before its row is marked `running`. A crash inside this
/// window returns the occurrence to the queue as the attempt it was (it runs again after
/// the restart without consuming a retry), as a crash before the instant does.
const MARK_RUNNING_AFTER: Duration = Duration::from_millis(100);

/// A failed recording is logged on its first attempt and then once per this many.
const RECORD_LOG_EVERY: u32 = 50;

/// An execution's place under `maxConcurrentTasks`: released as soon as its outcome is
/// queued for the store ([`Slot::release`]), or however the execution ends (even when
/// killed); its `running` entry goes when the slot is dropped.
pub(super) struct Slot {
    shared: Arc<Shared>,
    execution_id: ExecutionId,
    counted: bool,
}

impl Slot {
    /// Gives the place back (once): the running count drops and a saturated claim loop wakes.
    fn release(&mut self) {
        if !std::mem::take(&mut self.counted) {
            return;
        }
        let before = self.shared.running_count.fetch_sub(1, Ordering::SeqCst);
        if before == 1 {
            self.shared.idle.notify_waiters();
        }
        if self.shared.saturated.load(Ordering::SeqCst) {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.execution_id);
        self.release();
    }
}

/// A claimed execution ready to dispatch.
pub(super) struct Prepared {
    claim: ClaimedExecution,
    call: TaskCall,
    executed: TaskEvent,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
    slot: Slot,
}

/// Takes a claimed row: dispatches it now, or queues it for its instant.
pub(super) fn spawn(shared: &Arc<Shared>, claim: ClaimedExecution) {
    shared.running_count.fetch_add(1, Ordering::SeqCst);
    let cancel = CancellationToken::new();
    let reason = Arc::new(AtomicU8::new(CancelReason::None as u8));
    let execution_id = claim.occurrence.execution_id;
    lock(&shared.running).insert(
        execution_id,
        RunningEntry { task_id: claim.occurrence.task_id.clone(), cancel: cancel.clone(), reason: reason.clone() },
    );
    let slot = Slot { shared: shared.clone(), execution_id, counted: true };
    let call = TaskCall {
        command: claim.command.clone(),
        data: claim.data.clone(),
        timeout: claim.timeout,
        cancel: cancel.clone(),
        occurrence: claim.occurrence.clone(),
    };
    let prepared = Prepared { executed: TaskEvent::executed(&claim), claim, call, cancel, reason, slot };
    if prepared.claim.started_at > shared.clock.now() {
        let key = (prepared.claim.started_at, execution_id);
        lock(&shared.pending).insert(key, prepared);
        shared.pending_changed.notify_one();
    } else {
        start(shared, prepared);
    }
}

type Dispatch = BoxFuture<'static, Result<serde_json::Value, DispatchError>>;

/// Dispatches a prepared execution and spawns the task that awaits and records it.
fn start(shared: &Arc<Shared>, prepared: Prepared) {
    let dispatched = dispatch(shared, prepared);
    follow(shared, dispatched);
}

/// Calls the bus (unless already cancelled), stamping the `executed` event with the
/// instant of the call.
fn dispatch(shared: &Arc<Shared>, mut prepared: Prepared) -> (Prepared, Option<Dispatch>) {
    let call = prepared.call.clone();
    prepared.executed.at = shared.clock.now();
    let dispatch = (!prepared.cancel.is_cancelled()).then(|| shared.bus.dispatch(call));
    (prepared, dispatch)
}

/// Spawns the task that awaits a dispatch and records its outcome.
fn follow(shared: &Arc<Shared>, (prepared, dispatch): (Prepared, Option<Dispatch>)) {
    let Prepared { claim, executed, cancel, reason, mut slot, .. } = prepared;
    let kill = shared.kill.clone();
    let shared = shared.clone();
    shared.clone().tracker.spawn(async move {
        tokio::select! {
            () = execute(&shared, claim, executed, dispatch, cancel, reason, &mut slot) => {}
            () = kill.cancelled() => {}
        }
        drop(slot);
    });
}

/// Holds executions claimed ahead and dispatches each batch on its instant.
pub(super) async fn dispatcher(shared: Arc<Shared>) {
    loop {
        let now = shared.clock.now();
        let (ready, next) = {
            let mut pending = lock(&shared.pending);
            let later = pending.split_off(&(now, ExecutionId(i64::MAX)));
            let mut ready = std::mem::replace(&mut *pending, later);
            // Cancelled entries (user cancel, stop) do not wait for their instant.
            if shared.pending_cancelled.swap(false, Ordering::SeqCst) {
                let cancelled: Vec<_> = pending
                    .iter()
                    .filter(|(_, prepared)| prepared.cancel.is_cancelled())
                    .map(|(key, _)| *key)
                    .collect();
                for key in cancelled {
                    if let Some(prepared) = pending.remove(&key) {
                        ready.insert(key, prepared);
                    }
                }
            }
            (ready, pending.keys().next().map(|key| key.0))
        };
        // Every call of the instant first, then the bookkeeping tasks.
        let dispatched: Vec<_> = ready.into_values().map(|prepared| dispatch(&shared, prepared)).collect();
        for started in dispatched {
            follow(&shared, started);
        }
        let wait = next.map_or(Duration::from_secs(3_600), |at| until(shared.clock.as_ref(), at));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.pending_changed.notified() => {}
            () = shared.kill.cancelled() => {
                // A crash: forget everything not yet dispatched.
                lock(&shared.pending).clear();
                return;
            }
        }
    }
}

async fn execute(
    shared: &Arc<Shared>,
    claim: ClaimedExecution,
    executed: TaskEvent,
    dispatch: Option<Dispatch>,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
    slot: &mut Slot,
) {
    let execution_id = claim.occurrence.execution_id;
    let started = tokio::time::Instant::now();
    let deadline = started + claim.timeout;
    let stopped_before_dispatch = dispatch.is_none() && reason.load(Ordering::SeqCst) == CancelReason::Stop as u8;
    if claim.ahead && stopped_before_dispatch {
        // The engine stopped before the instant: the claim goes back to the queue, as the
        // attempt it was, instead of counting as an interrupted run.
        if let Err(error) = shared.store.mark_claim(execution_id, false).await {
            tracing::warn!(%execution_id, %error, "Returning a claim to the queue failed; it is returned at the next start.");
        }
        return;
    }
    let result = match dispatch {
        None => Err(DispatchError::Cancelled),
        Some(dispatch) => {
            executed.emit(shared.bus.as_ref());
            // A claim made ahead shows `running` only once its run has lasted
            // MARK_RUNNING_AFTER: most runs end sooner, and their outcome is written straight
            // over the claim (the store's `finish` takes it), which saves a write per fire.
            // The mark and the outcome go through the one writer in order.
            let mark = async {
                if claim.ahead {
                    tokio::time::sleep(MARK_RUNNING_AFTER).await;
                    if let Err(error) = shared.store.mark_claim(execution_id, true).await {
                        tracing::warn!(%execution_id, %error, "Marking a claimed execution running failed.");
                    }
                }
                // Never ends: only the three branches above end the run.
                std::future::pending().await
            };
            tokio::select! {
                // The dispatch is polled first: when `cancel` fires, the bus call sees it in
                // that same poll and passes it on to the handler (the host's call cancel)
                // before this select drops it.
                biased;
                result = dispatch => result,
                () = tokio::time::sleep_until(deadline) => Err(DispatchError::Timeout { after: claim.timeout }),
                () = cancel.cancelled() => Err(DispatchError::Cancelled),
                result = mark => result,
            }
        }
    };
    let duration = started.elapsed();
    let stopping = reason.load(Ordering::SeqCst) == CancelReason::Stop as u8;
    let (status, output, error, advice) = classify(result, stopping);
    if status != ExecutionStatus::Completed {
        // Abandon the attempt before its retry can exist.
        cancel.cancel();
    }
    let config = &shared.config;
    let finish = Finish {
        execution_id,
        status,
        finished_at: shared.clock.now(),
        duration,
        output: output.map(|output| bounded_output(output, config.max_output_bytes)),
        error: error.map(|error| bounded_error(error, config.max_output_bytes)),
        retryable: advice.retryable,
        retry_not_before: advice.not_before,
        retry_delay_max: Duration::from_millis(config.retry_delay_max),
        retry_jitter: config.retry_jitter,
    };
    record(shared, execution_id, finish, &reason, slot).await;
}

/// Error codes that say retrying cannot help, whatever the handler's advice (see the SDK's
/// `code` docs).
const PERMANENT_CODES: [&str; 4] = [code::UNKNOWN_COMMAND, code::INVALID_PARAMS, code::NOT_FOUND, code::CONFLICT];

/// Whether and when a failed attempt may be retried, beside the task's own policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Advice {
    retryable: bool,
    not_before: Option<Duration>,
}

impl Advice {
    const POLICY: Advice = Advice { retryable: true, not_before: None };
    const NEVER: Advice = Advice { retryable: false, not_before: None };
}

/// An attempt's status, output, error and retry advice. A handler's failure keeps its
/// details as the output (a runner's exit code, an HTTP status) and its retry advice: a
/// permanent failure is not retried, a `Retry-After` is a floor under the backoff.
fn classify(
    result: Result<serde_json::Value, DispatchError>,
    stopping: bool,
) -> (ExecutionStatus, Option<serde_json::Value>, Option<String>, Advice) {
    match result {
        Ok(output) => (ExecutionStatus::Completed, Some(output), None, Advice::POLICY),
        Err(error @ DispatchError::UnknownCommand { .. }) => {
            (ExecutionStatus::Failed, None, Some(error.to_string()), Advice::NEVER)
        }
        Err(error @ DispatchError::Timeout { .. }) => {
            (ExecutionStatus::Timeout, None, Some(error.to_string()), Advice::POLICY)
        }
        Err(DispatchError::Cancelled) if stopping => (
            ExecutionStatus::Interrupted,
            None,
            Some("interrupted: the engine stopped before the run ended".to_owned()),
            Advice::POLICY,
        ),
        Err(DispatchError::Cancelled) => {
            (ExecutionStatus::Cancelled, None, Some("cancelled on request".to_owned()), Advice::NEVER)
        }
        Err(DispatchError::Failed { code, message, details, retry }) => {
            let advice = match retry {
                _ if PERMANENT_CODES.contains(&code.as_str()) => Advice::NEVER,
                Some(RetryHint::Never) => Advice::NEVER,
                Some(RetryHint::AfterMs(ms)) => Advice { retryable: true, not_before: Some(Duration::from_millis(ms)) },
                None => Advice::POLICY,
            };
            (ExecutionStatus::Failed, details, Some(format!("{code}: {message}")), advice)
        }
    }
}

/// Records an outcome, retrying until the store takes it (see the engine docs). Until it is
/// recorded the execution is listed in `unrecorded`, so claims do not count its row as
/// running; its slot is released once the outcome is queued on the recorder (which writes
/// outcomes in batches, `recorder.rs`), so a saturated engine does not wait for a commit to
/// start its next run.
async fn record(shared: &Arc<Shared>, execution_id: ExecutionId, finish: Finish, reason: &AtomicU8, slot: &mut Slot) {
    let mut attempt: u32 = 0;
    lock(&shared.unrecorded).insert(execution_id);
    let outcome = loop {
        attempt = attempt.saturating_add(1);
        let recording = shared.recorder.record(finish.clone());
        slot.release();
        match recording.await {
            Ok(outcome) => break Some(outcome),
            Err(error) => {
                let stopping = reason.load(Ordering::SeqCst) == CancelReason::Stop as u8;
                if stopping && attempt >= RECORD_ATTEMPTS {
                    tracing::error!(%execution_id, %error, "Recording an outcome failed while stopping; the run will be recovered as interrupted.");
                    break None;
                }
                if attempt % RECORD_LOG_EVERY == 1 {
                    tracing::warn!(%execution_id, %error, attempt, "Recording an outcome failed; it is kept and retried.");
                }
                let backoff = Duration::from_millis(100 * u64::from(attempt.min(600)));
                tokio::time::sleep(backoff.min(shared.config.tick())).await;
            }
        }
    };
    lock(&shared.unrecorded).remove(&execution_id);
    match outcome {
        Some(FinishOutcome::Finished(finished)) => {
            if attempt > 1 {
                tracing::info!(%execution_id, attempt, "Outcome recorded after the store recovered.");
            }
            announce_finished(shared, &finished);
            if finished.retry.is_some() || finished.queued_waiting {
                shared.wake.notify_one();
            }
        }
        Some(FinishOutcome::NotRunning) if reason.load(Ordering::SeqCst) == CancelReason::Request as u8 => {
            // `scheduler:cancel` recorded it (with its audit row) before firing the cancel.
            tracing::debug!(%execution_id, "Execution was cancelled on request; the abandoned call's outcome is dropped.");
        }
        Some(FinishOutcome::NotRunning) => {
            tracing::warn!(%execution_id, "Execution was ended elsewhere (recovered, or cancelled on request); its outcome is dropped.");
        }
        None => {}
    }
}

/// An output of at most `max_bytes` of JSON text is kept as it is; a larger one is stored
/// as a marker object with the start of its text, so one chatty command cannot grow the
/// database by its output size on every run.
pub(super) fn bounded_output(output: serde_json::Value, max_bytes: usize) -> serde_json::Value {
    let text = output.to_string();
    if text.len() <= max_bytes {
        return output;
    }
    // Leave room for the marker's own fields and the escaping of the head.
    let mut end = (max_bytes / 2).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    serde_json::json!({
        "truncated": format!("the output took {} bytes, over maxOutputBytes ({max_bytes}); only its start is kept", text.len()),
        "bytes": text.len(),
        "head": &text[..end],
    })
}

/// A failed command's error text is bounded like its output: the start is kept, followed by
/// a marker saying how long it was.
pub(super) fn bounded_error(error: String, max_bytes: usize) -> String {
    if error.len() <= max_bytes {
        return error;
    }
    let mut end = max_bytes / 2;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated: the error took {} bytes, over maxOutputBytes ({max_bytes})]", &error[..end], error.len())
}

/// Publishes the events of a recorded outcome and wakes waiters.
pub(super) fn announce_finished(shared: &Shared, finished: &Finished) {
    let execution = &finished.execution;
    let occurrence = Occurrence {
        task_id: execution.task_id.clone(),
        name: execution.task_name.clone(),
        tenant: finished.tenant.clone(),
        execution_id: execution.id,
        scheduled_for: execution.scheduled_for,
        attempt: execution.attempt,
        trigger: execution.trigger,
    };
    let event = TaskEvent {
        kind: TaskEventKind::ended(execution.status),
        occurrence: Arc::new(occurrence),
        at: execution.finished_at.unwrap_or_else(|| shared.clock.now()),
        status: execution.status,
        duration_ms: execution.duration_ms,
        error: execution.error.clone(),
        retry_at: None,
    };
    event.emit(shared.bus.as_ref());
    if let Some(retry) = &finished.retry {
        // The real bus keeps no event, so the retry takes over the identity's strings rather
        // than copying them (a bus that kept it gets a copy).
        let retried = Occurrence {
            execution_id: retry.execution_id,
            attempt: retry.attempt,
            trigger: Trigger::Retry,
            ..Arc::unwrap_or_clone(event.occurrence)
        };
        TaskEvent {
            kind: TaskEventKind::Retrying,
            occurrence: Arc::new(retried),
            status: ExecutionStatus::Queued,
            duration_ms: None,
            retry_at: Some(retry.run_at),
            ..event
        }
        .emit(shared.bus.as_ref());
    }
    shared.notify_waiters(execution);
}
