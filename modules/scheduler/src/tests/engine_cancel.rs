//! `scheduler:cancel`'s engine path ([`EngineHandle::cancel_audited`]) on the paused clock:
//! what each state of an execution becomes, that a cancelled execution never runs (or is
//! told to stop, and the bus call always sees it), that the audit row is written with the
//! change, and what is refused; and a delete's `cancel_task` of a claim held for its instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use systemprompt_module_sdk::testing::ModuleTest;

use super::{Harness, pass, secs};
use crate::engine::{BoxFuture, DispatchError, Engine, EngineHandle, TaskBus, TaskCall};
use crate::store::{AuditNote, CancelOutcome, StoreError};
use crate::task::{Execution, ExecutionId, ExecutionStatus};
use crate::testing::Behaviour;

fn note() -> AuditNote {
    AuditNote { actor: "tester".to_owned(), action: "execution.cancel".to_owned(), details: serde_json::json!({}) }
}

async fn cancel(handle: &EngineHandle, id: ExecutionId) -> (Execution, ExecutionStatus) {
    match handle.cancel_audited(id, note()).await.expect("cancel") {
        CancelOutcome::Cancelled { finished, before } => (finished.execution, before),
        CancelOutcome::AlreadyEnded(execution) => panic!("execution {id} had already ended: {execution:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_running_execution_cancelled_on_request_is_recorded_cancelled_its_call_cancelled_and_not_retried() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("hang", Behaviour::Hang);
    let task = harness.create_with("hang", "hang", "manual", |task| task.retries = 3).await;
    let engine = harness.start().await;
    let handle = engine.handle();
    let id = handle.run_now(task.id.clone()).await.expect("run").id;
    pass(secs(5)).await;
    let (execution, before) = cancel(&handle, id).await;
    assert_eq!((before, execution.status), (ExecutionStatus::Running, ExecutionStatus::Cancelled));
    assert_eq!(execution.duration_ms, Some(5_000));
    assert_eq!(execution.error.as_deref(), Some("cancelled on request"));
    pass(secs(1)).await;
    let calls = harness.bus.calls();
    assert!(calls[0].cancel.is_cancelled(), "the command's cancellation fired");
    assert!(calls[0].cancelled_at.lock().expect("lock").is_some(), "the handler saw it");
    pass(secs(3_600)).await;
    assert_eq!(harness.executions(&task).await.len(), 1, "no retry");
    assert_eq!(harness.bus.event_kinds(id), ["executed", "cancelled"]);
    let task = harness.reload(&task).await;
    assert_eq!(task.last_status, Some(ExecutionStatus::Cancelled));
    assert_eq!(handle.running(), 0, "the abandoned call freed its slot");
    let audit = harness.store.audit(Some(task.id.clone()), 10).await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), ("tester", "execution.cancel"));
    assert_eq!(
        audit[0].details,
        serde_json::json!({"execution_id": id.0, "outcome": "cancelled", "status": "cancelled", "was": "running"})
    );
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_retry_cancelled_on_request_never_runs() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness
        .create_with("flaky", "fail", "manual", |task| {
            task.retries = 2;
            task.retry_delay = secs(60);
        })
        .await;
    let engine = harness.start().await;
    let handle = engine.handle();
    let first = handle.run_now(task.id.clone()).await.expect("run").id;
    pass(secs(1)).await;
    let retry = harness.store.next_attempt(first).await.expect("next").expect("a retry is queued");
    assert_eq!(retry.status, ExecutionStatus::Queued);
    let (execution, before) = cancel(&handle, retry.id).await;
    assert_eq!((before, execution.status), (ExecutionStatus::Queued, ExecutionStatus::Cancelled));
    pass(secs(600)).await;
    assert_eq!(harness.bus.calls().len(), 1, "only the first attempt ran");
    let rows = harness.executions(&task).await;
    let statuses: Vec<ExecutionStatus> = rows.iter().map(|row| row.status).collect();
    assert_eq!(statuses, [ExecutionStatus::Failed, ExecutionStatus::Cancelled]);
    assert_eq!(harness.bus.event_kinds(retry.id), ["retrying", "cancelled"]);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_occurrence_claimed_ahead_and_cancelled_before_its_instant_is_never_dispatched() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("minutely", "ok", "* * * * *").await;
    let engine = harness.start().await;
    let handle = engine.handle();
    // Inside the claim-ahead horizon (500 ms) of 00:01:00: claimed, still `queued`.
    pass(std::time::Duration::from_millis(59_800)).await;
    let rows = harness.executions(&task).await;
    assert_eq!(rows.len(), 1, "claimed ahead: {rows:?}");
    assert_eq!(rows[0].status, ExecutionStatus::Queued);
    assert!(rows[0].node_id.is_some());
    let (execution, before) = cancel(&handle, rows[0].id).await;
    assert_eq!((before, execution.status), (ExecutionStatus::Queued, ExecutionStatus::Cancelled));
    pass(secs(1)).await;
    assert!(harness.bus.calls().is_empty(), "never dispatched: {:?}", harness.bus.calls());
    assert_eq!(harness.executions(&task).await[0].status, ExecutionStatus::Cancelled);
    assert_eq!(handle.running(), 0);
    // The schedule goes on: the next minute runs.
    pass(secs(60)).await;
    assert_eq!(harness.bus.calls().len(), 1);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_ended_execution_is_refused_unchanged_and_an_unknown_one_is_not_found() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("once", "ok", "manual").await;
    let engine = harness.start().await;
    let handle = engine.handle();
    let id = handle.run_now(task.id.clone()).await.expect("run").id;
    let done = handle.await_run(id).await.expect("await");
    assert_eq!(done.status, ExecutionStatus::Completed);
    match handle.cancel_audited(id, note()).await.expect("answer") {
        CancelOutcome::AlreadyEnded(execution) => assert_eq!(execution.status, ExecutionStatus::Completed),
        CancelOutcome::Cancelled { .. } => panic!("a completed execution was cancelled"),
    }
    assert_eq!(harness.executions(&task).await[0].status, ExecutionStatus::Completed);
    assert!(harness.store.audit(Some(task.id.clone()), 10).await.expect("audit").is_empty(), "nothing audited");
    let error = handle.cancel_audited(ExecutionId(9_999), note()).await.expect_err("unknown");
    assert!(matches!(error, crate::engine::EngineError::Store(StoreError::ExecutionNotFound(ExecutionId(9_999)))));
    engine.stop().await;
}

#[tokio::test]
async fn cancel_answers_unavailable_while_the_engine_is_not_running() {
    let test = ModuleTest::<crate::Scheduler>::new(serde_json::json!({})).expect("builds");
    let params = scheduler_api::runs::CancelParams { execution: 1 };
    let error = test
        .call::<scheduler_api::runs::CancelExecution>(&params, std::time::Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(error.code, "unavailable");
}

#[tokio::test(start_paused = true)]
async fn a_delete_then_cancel_task_stops_an_occurrence_claimed_ahead_before_its_instant() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("minutely", "ok", "* * * * *").await;
    let engine = harness.start().await;
    let handle = engine.handle();
    pass(std::time::Duration::from_millis(59_800)).await;
    let rows = harness.executions(&task).await;
    assert_eq!((rows.len(), rows[0].status), (1, ExecutionStatus::Queued), "claimed ahead: {rows:?}");
    // What `scheduler:delete` does: the store change, then the engine's cancel.
    let deleted = harness
        .store
        .change_audited(crate::store::TaskChange::Delete(task.id.clone()), note(), harness.now())
        .await
        .expect("delete");
    assert!(matches!(deleted, crate::store::ChangeOutcome::Deleted(Some(_))));
    assert_eq!(handle.cancel_task(&task.id), 1);
    pass(secs(120)).await;
    assert!(harness.bus.calls().is_empty(), "never dispatched: {:?}", harness.bus.calls());
    let rows = harness.executions(&task).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, ExecutionStatus::Cancelled);
    engine.stop().await;
}

/// A bus whose dispatch future itself passes the cancellation on (as the SDK's host call
/// does: it tells the host only while it is polled), counting the calls it passed on.
struct PassOnBus {
    passed_on: Arc<AtomicUsize>,
}

impl TaskBus for PassOnBus {
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>> {
        let passed_on = self.passed_on.clone();
        Box::pin(async move {
            call.cancel.cancelled().await;
            passed_on.fetch_add(1, Ordering::SeqCst);
            Err(DispatchError::Cancelled)
        })
    }

    fn publish(&self, _: &crate::engine::TaskEvent) {}
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_always_passes_its_cancellation_on_before_the_engine_drops_it() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("waits", "wait", "manual").await;
    let passed_on = Arc::new(AtomicUsize::new(0));
    let bus = Arc::new(PassOnBus { passed_on: passed_on.clone() });
    let engine = Engine::start(harness.config.clone(), harness.store.clone(), bus, harness.clock.clone())
        .await
        .expect("engine starts");
    let handle = engine.handle();
    // Were the engine's own cancel branch polled first, about half would be dropped unseen.
    for round in 1..=16 {
        let id = handle.run_now(task.id.clone()).await.expect("run").id;
        pass(secs(1)).await;
        cancel(&handle, id).await;
        pass(secs(1)).await;
        assert_eq!(passed_on.load(Ordering::SeqCst), round, "round {round}: the call never saw its cancellation");
    }
    engine.stop().await;
}
