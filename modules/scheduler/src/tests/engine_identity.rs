//! One occurrence identity per execution: the claim, its bus call and its events share one
//! `Arc<Occurrence>` (no per-shape copies of the task's strings on a fire), and the
//! identities the engine makes for outcomes and retries say the same as the row.

use std::sync::{Arc, Mutex};

use super::{Harness, pass, secs};
use crate::engine::{BoxFuture, DispatchError, Engine, TaskBus, TaskCall, TaskEvent, TaskEventKind};
use crate::task::{ExecutionId, Occurrence, Trigger};

/// A bus that keeps the identities it was handed; its first call fails, the rest succeed.
#[derive(Default)]
struct IdentityBus {
    calls: Mutex<Vec<Arc<Occurrence>>>,
    events: Mutex<Vec<(TaskEventKind, Arc<Occurrence>)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl TaskBus for IdentityBus {
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>> {
        let mut calls = lock(&self.calls);
        calls.push(call.occurrence.clone());
        let result = if calls.len() == 1 {
            Err(DispatchError::failed("test_failure", "first"))
        } else {
            Ok(serde_json::json!({}))
        };
        Box::pin(std::future::ready(result))
    }

    fn publish(&self, event: &TaskEvent) {
        lock(&self.events).push((event.kind, event.occurrence.clone()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_fire_shares_one_identity_between_its_call_and_its_executed_event_and_its_retry_names_the_new_row() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create_with("flaky", "flaky", "2026-01-01T00:01:00Z", |task| task.retries = 1).await;
    let bus = Arc::new(IdentityBus::default());
    let engine = Engine::start(harness.config.clone(), harness.store.clone(), bus.clone(), harness.clock.clone())
        .await
        .expect("engine starts");
    pass(secs(3_600)).await;
    engine.stop().await;

    let calls = lock(&bus.calls).clone();
    let events = lock(&bus.events).clone();
    let kinds: Vec<TaskEventKind> = events.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        [
            TaskEventKind::Executed,
            TaskEventKind::Failed,
            TaskEventKind::Retrying,
            TaskEventKind::Executed,
            TaskEventKind::Completed
        ]
    );
    assert_eq!(calls.len(), 2);
    assert!(Arc::ptr_eq(&calls[0], &events[0].1), "the first call and its executed event share one identity");
    assert!(Arc::ptr_eq(&calls[1], &events[3].1), "so do the retry's call and its executed event");
    let first = &calls[0];
    assert_eq!(
        (first.task_id.clone(), first.name.as_str(), first.tenant.as_str(), first.attempt, first.trigger),
        (task.id.clone(), "flaky", "default", 1, Trigger::Schedule)
    );
    assert_eq!(*events[1].1, **first, "the failed outcome names the same execution");
    let retry = &events[2].1;
    assert_eq!(*retry, calls[1], "the retrying event names the retry's row");
    assert_eq!(
        Occurrence { execution_id: first.execution_id, attempt: 1, trigger: Trigger::Schedule, ..(**retry).clone() },
        **first,
        "a retry is the same occurrence of the same task"
    );
    assert_ne!(retry.execution_id, first.execution_id);
    assert_eq!((retry.attempt, retry.trigger), (2, Trigger::Retry));
    assert_eq!(*events[4].1, *calls[1]);
    let rows = harness.executions(&task).await;
    let ids: Vec<ExecutionId> = rows.iter().map(|row| row.id).collect();
    assert_eq!(ids, [first.execution_id, retry.execution_id]);
}
