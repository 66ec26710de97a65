//! Overlap policies, manual runs and the concurrency limit.

use super::{Harness, at, pass, secs};
use crate::task::{ExecutionStatus, OverlapPolicy, Trigger};
use crate::testing::Behaviour;

fn statuses(executions: &[crate::task::Execution]) -> Vec<(String, ExecutionStatus)> {
    executions.iter().map(|e| (e.scheduled_for.strftime("%M:%S").to_string(), e.status)).collect()
}

#[tokio::test(start_paused = true)]
async fn overlap_skip_records_occurrences_due_while_running_as_skipped() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("slow", Behaviour::Take(secs(25)));
    let task = harness.create("slow", "slow", "10s").await;
    assert_eq!(task.overlap, OverlapPolicy::Skip);
    let engine = harness.start().await;
    pass(secs(64)).await;
    use ExecutionStatus::{Completed, Running, Skipped};
    assert_eq!(
        statuses(&harness.executions(&task).await),
        [
            ("00:10".to_owned(), Completed),
            ("00:20".to_owned(), Skipped),
            ("00:30".to_owned(), Skipped),
            ("00:40".to_owned(), Running),
            ("00:50".to_owned(), Skipped),
            ("01:00".to_owned(), Skipped),
        ]
    );
    let skipped = harness.executions(&task).await[1].clone();
    assert_eq!(harness.bus.event_kinds(skipped.id), ["skipped"]);
    assert_eq!(skipped.error.as_deref(), Some("the previous run is still running (overlap policy skip)"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_occurrence_skipped_because_of_a_retry_says_a_retry_blocks_it() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    // Claimed ahead, the 00:20 occurrence would start before the retry due at the same time.
    harness.config.claim_ahead = 0;
    harness.bus.on("flaky", Behaviour::Script(vec![Behaviour::Fail("boom".to_owned()), Behaviour::Take(secs(15))]));
    let task = harness
        .create_with("flaky", "flaky", "10s", |task| {
            task.retries = 1;
            task.retry_delay = secs(10);
            task.retry_backoff = crate::task::BackoffKind::Fixed;
        })
        .await;
    let engine = harness.start().await;
    pass(secs(25)).await;
    let executions = harness.executions(&task).await;
    let skipped: Vec<_> = executions.iter().filter(|e| e.status == ExecutionStatus::Skipped).collect();
    assert_eq!(skipped.len(), 1, "{:?}", statuses(&executions));
    assert_eq!(skipped[0].scheduled_for, at("2026-01-01T00:00:20Z"));
    assert_eq!(
        skipped[0].error.as_deref(),
        Some("a retry of an earlier occurrence is queued or running (overlap policy skip)")
    );
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_occurrence_skipped_behind_a_misfire_backlog_says_the_backlog_blocks_it() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.misfire_run_all_limit = 3;
    harness.bus.on("slow", Behaviour::Take(secs(20 * 60)));
    let task =
        harness.create_with("hourly", "slow", "1h", |task| task.misfire = crate::task::MisfirePolicy::RunAll).await;
    pass(secs(3 * 86_400 + 1_800)).await;
    let engine = harness.start().await;
    pass(secs(3_600)).await;
    let executions = harness.executions(&task).await;
    let skipped: Vec<_> =
        executions.iter().filter(|e| e.status == ExecutionStatus::Skipped && e.trigger == Trigger::Schedule).collect();
    assert_eq!(skipped.len(), 1, "{:?}", statuses(&executions));
    assert_eq!(skipped[0].scheduled_for, at("2026-01-04T01:00:00Z"));
    assert_eq!(
        skipped[0].error.as_deref(),
        Some("earlier occurrences are still queued or running (misfire backlog; overlap policy skip)")
    );
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn overlap_queue_keeps_one_occurrence_waiting_and_runs_it_when_the_task_is_free() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("slow", Behaviour::Take(secs(25)));
    let task = harness.create_with("slow", "slow", "10s", |task| task.overlap = OverlapPolicy::Queue).await;
    let engine = harness.start().await;
    pass(secs(56)).await;
    use ExecutionStatus::{Completed, Queued, Running, Skipped};
    assert_eq!(
        statuses(&harness.executions(&task).await),
        [
            ("00:10".to_owned(), Completed),
            ("00:20".to_owned(), Running),
            ("00:30".to_owned(), Skipped),
            ("00:40".to_owned(), Queued),
            ("00:50".to_owned(), Skipped),
        ]
    );
    let starts: Vec<String> = harness.bus.calls().iter().map(|c| c.at.to_string()).collect();
    assert_eq!(starts, ["2026-01-01T00:00:10Z", "2026-01-01T00:00:35Z"]);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn overlap_allow_runs_occurrences_concurrently() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("slow", Behaviour::Take(secs(25)));
    let task = harness.create_with("slow", "slow", "10s", |task| task.overlap = OverlapPolicy::Allow).await;
    let engine = harness.start().await;
    pass(secs(31)).await;
    assert_eq!(engine.handle().running(), 3);
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 3);
    assert!(executions.iter().all(|e| e.status != ExecutionStatus::Skipped));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_manual_run_respects_the_overlap_policy() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("slow", Behaviour::Take(secs(60)));
    let skip = harness.create("skip", "slow", "manual").await;
    let queue = harness.create_with("queue", "slow", "manual", |task| task.overlap = OverlapPolicy::Queue).await;
    let engine = harness.start().await;
    let handle = engine.handle();

    let first = handle.run_now(skip.id.clone()).await.expect("run").id;
    pass(secs(1)).await;
    let second = handle.run_now(skip.id.clone()).await.expect("run").id;
    let second = handle.await_execution(second).await.expect("ended");
    assert_eq!(second.status, ExecutionStatus::Skipped);
    assert_eq!(second.trigger, Trigger::Manual);

    let a = handle.run_now(queue.id.clone()).await.expect("run").id;
    pass(secs(1)).await;
    let b = handle.run_now(queue.id.clone()).await.expect("run").id;
    let c = handle.run_now(queue.id.clone()).await.expect("run").id;
    assert_eq!(handle.await_execution(c).await.expect("ended").status, ExecutionStatus::Skipped);
    let b = handle.await_execution(b).await.expect("ended");
    assert_eq!(b.status, ExecutionStatus::Completed);
    let a = handle.await_execution(a).await.expect("ended");
    assert_eq!(b.started_at, a.finished_at, "the queued run starts when the first ends");
    assert_eq!(handle.await_execution(first).await.expect("ended").status, ExecutionStatus::Completed);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn max_concurrent_tasks_bounds_running_executions_and_late_ones_keep_their_slot_time() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.max_concurrent_tasks = 2;
    harness.bus.on("slow", Behaviour::Take(secs(10)));
    for n in 0..5 {
        harness.create(&format!("t{n}"), "slow", "2026-01-01T00:01:00Z").await;
    }
    let engine = harness.start().await;
    pass(secs(61)).await;
    assert_eq!(engine.handle().running(), 2);
    pass(secs(60)).await;
    let mut starts: Vec<String> = harness.bus.calls().iter().map(|c| c.at.strftime("%M:%S").to_string()).collect();
    starts.sort();
    assert_eq!(starts, ["01:00", "01:00", "01:10", "01:10", "01:20"]);
    assert!(harness.bus.calls().iter().all(|c| c.scheduled_for == at("2026-01-01T00:01:00Z")));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_manual_run_of_a_paused_task_runs_at_once() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("paused", "ok", "1h").await;
    harness.store.pause_task(task.id.clone(), harness.now()).await.expect("pause");
    let engine = harness.start().await;
    let handle = engine.handle();
    let requested = handle.run_now(task.id.clone()).await.expect("requested");
    assert_eq!((requested.status, requested.trigger), (ExecutionStatus::Queued, Trigger::Manual), "the row as written");
    assert_eq!(requested.task_id, task.id);
    let execution = requested.id;
    let ended = tokio::time::timeout(secs(5), handle.await_run(execution)).await.expect("it ran promptly");
    let ended = ended.expect("the run");
    assert_eq!(ended.status, ExecutionStatus::Completed);
    assert_eq!(ended.trigger, Trigger::Manual);
    assert_eq!(harness.bus.calls_of("ok").len(), 1);
    assert_eq!(harness.reload(&task).await.status, crate::task::TaskStatus::Paused, "it stays paused");
    let second = handle.run_now(task.id.clone()).await.expect("requested").id;
    let second = harness.store.get_execution(second).await.expect("read").expect("the row");
    assert_ne!(second.status, ExecutionStatus::Skipped, "the first run no longer blocks others");
    engine.stop().await;
}
