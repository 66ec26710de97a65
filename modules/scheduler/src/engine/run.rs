//! One execution: dispatch on the bus under the task's timeout, then record the outcome.
//!
//! Invariant: when an attempt did not complete, its cancel token is fired *before* the
//! outcome (and so the retry row) is recorded: a retry never starts while the abandoned
//! attempt is still being asked to run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::bus::{DispatchError, TaskCall};
use super::events::{TaskEvent, TaskEventKind};
use super::{CancelReason, RunningEntry, Shared, lock};
use crate::store::{ClaimedExecution, Finish, FinishOutcome, Finished};
use crate::task::{ExecutionStatus, Trigger};

/// Store attempts to record an outcome before giving up (the row then stays `running`
/// and is recovered as `interrupted` at the next start).
const RECORD_ATTEMPTS: u32 = 5;

/// Decrements the running count however the execution ends (even when killed).
struct Slot {
    shared: Arc<Shared>,
    execution_id: crate::task::ExecutionId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.execution_id);
        self.shared.running_count.fetch_sub(1, Ordering::SeqCst);
        if self.shared.saturated.load(Ordering::SeqCst) {
            self.shared.wake.notify_one();
        }
    }
}

/// Starts an execution task for a claimed row.
pub(super) fn spawn(shared: &Arc<Shared>, claim: ClaimedExecution) {
    shared.running_count.fetch_add(1, Ordering::SeqCst);
    let cancel = CancellationToken::new();
    let reason = Arc::new(AtomicU8::new(CancelReason::None as u8));
    lock(&shared.running).insert(
        claim.execution_id,
        RunningEntry {
            task_id: claim.task_id.clone(),
            cancel: cancel.clone(),
            reason: reason.clone(),
        },
    );
    let slot = Slot {
        shared: shared.clone(),
        execution_id: claim.execution_id,
    };
    let kill = shared.kill.clone();
    shared.tracker.spawn(async move {
        let shared = slot.shared.clone();
        tokio::select! {
            () = execute(&shared, claim, cancel, reason) => {}
            () = kill.cancelled() => {}
        }
        drop(slot);
    });
}

async fn execute(
    shared: &Arc<Shared>,
    claim: ClaimedExecution,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
) {
    // Claimed ahead: wait for the occurrence's instant (a cancel still ends it).
    let early = claim.started_at.duration_since(shared.clock.now());
    if let Ok(early) = Duration::try_from(early)
        && !early.is_zero()
    {
        tokio::select! {
            () = tokio::time::sleep(early) => {}
            () = cancel.cancelled() => {}
        }
    }
    TaskEvent::executed(&claim).emit(shared.bus.as_ref());
    let data = serde_json::from_str(&claim.data).unwrap_or(serde_json::Value::Null);
    let call = TaskCall {
        command: claim.command.clone(),
        data,
        timeout: claim.timeout,
        cancel: cancel.clone(),
        correlation_id: claim.execution_id.to_string(),
        task_id: claim.task_id.to_string(),
        task_name: claim.name.clone(),
        tenant: claim.tenant.clone(),
        scheduled_for: claim.scheduled_for,
        attempt: claim.attempt,
        trigger: claim.trigger,
    };
    let started = tokio::time::Instant::now();
    let result = if cancel.is_cancelled() {
        Err(DispatchError::Cancelled)
    } else {
        let dispatch = shared.bus.dispatch(call);
        tokio::select! {
            result = dispatch => result,
            () = tokio::time::sleep(claim.timeout) => Err(DispatchError::Timeout { after: claim.timeout }),
            () = cancel.cancelled() => Err(DispatchError::Cancelled),
        }
    };
    let duration = started.elapsed();
    let stopping = reason.load(Ordering::SeqCst) == CancelReason::Stop as u8;
    let (status, output, error, retryable) = match result {
        Ok(output) => (ExecutionStatus::Completed, Some(output), None, true),
        Err(error @ DispatchError::UnknownCommand { .. }) => {
            (ExecutionStatus::Failed, None, Some(error.to_string()), false)
        }
        Err(error @ DispatchError::Timeout { .. }) => {
            (ExecutionStatus::Timeout, None, Some(error.to_string()), true)
        }
        Err(DispatchError::Cancelled) if stopping => (
            ExecutionStatus::Interrupted,
            None,
            Some("interrupted: the engine stopped before the run ended".to_owned()),
            true,
        ),
        Err(DispatchError::Cancelled) => (
            ExecutionStatus::Cancelled,
            None,
            Some("cancelled on request".to_owned()),
            false,
        ),
        Err(error @ DispatchError::Failed { .. }) => {
            (ExecutionStatus::Failed, None, Some(error.to_string()), true)
        }
    };
    if status != ExecutionStatus::Completed {
        // Abandon the attempt before its retry can exist.
        cancel.cancel();
    }
    let config = &shared.config;
    let finish = Finish {
        execution_id: claim.execution_id,
        status,
        finished_at: shared.clock.now(),
        duration,
        output,
        error,
        retryable,
        retry_delay_max: Duration::from_millis(config.retry_delay_max),
        retry_jitter: config.retry_jitter,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match shared.store.finish_execution(finish.clone()).await {
            Ok(FinishOutcome::Finished(finished)) => {
                announce_finished(shared, &finished);
                if finished.retry.is_some() || finished.queued_waiting {
                    shared.wake.notify_one();
                }
                return;
            }
            Ok(FinishOutcome::NotRunning) => {
                tracing::warn!(execution_id = %claim.execution_id, "Execution was recovered elsewhere; its outcome is dropped.");
                return;
            }
            Err(error) if attempt < RECORD_ATTEMPTS => {
                tracing::warn!(execution_id = %claim.execution_id, %error, "Recording an outcome failed; retrying.");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(error) => {
                tracing::error!(execution_id = %claim.execution_id, %error, "Recording an outcome failed; the run will be recovered as interrupted.");
                return;
            }
        }
    }
}

/// Publishes the events of a recorded outcome and wakes waiters.
pub(super) fn announce_finished(shared: &Shared, finished: &Finished) {
    let execution = &finished.execution;
    let event = TaskEvent {
        kind: TaskEventKind::ended(execution.status),
        task_id: execution.task_id.to_string(),
        name: execution.task_name.clone(),
        tenant: finished.tenant.clone(),
        execution_id: execution.id,
        scheduled_for: execution.scheduled_for,
        attempt: execution.attempt,
        trigger: execution.trigger,
        status: execution.status,
        duration_ms: execution.duration_ms,
        error: execution.error.clone(),
        retry_at: None,
    };
    event.emit(shared.bus.as_ref());
    if let Some(retry) = &finished.retry {
        TaskEvent {
            kind: TaskEventKind::Retrying,
            execution_id: retry.execution_id,
            attempt: retry.attempt,
            trigger: Trigger::Retry,
            status: ExecutionStatus::Queued,
            duration_ms: None,
            retry_at: Some(retry.run_at),
            ..event
        }
        .emit(shared.bus.as_ref());
    }
    shared.notify_waiters(execution);
}
