//! Downtime, crashes, restarts, stops, clock jumps, two engines on one file, cleanup.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Harness, at, pass, secs};
use crate::task::{ExecutionStatus, MisfirePolicy, Trigger};
use crate::testing::{Behaviour, FakeBus};

/// Creates an hourly task at 2026-01-01T00:00Z, runs nothing for three days and a half
/// hour, then starts an engine and lets two more hours pass.
async fn three_days_down(policy: MisfirePolicy, run_all_limit: u32) -> (Harness, crate::task::Task) {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.misfire_run_all_limit = run_all_limit;
    let task = harness.create_with("hourly", "ok", "1h", |task| task.misfire = policy).await;
    pass(secs(3 * 86_400 + 1_800)).await;
    let engine = harness.start().await;
    pass(secs(2 * 3_600)).await;
    engine.stop().await;
    (harness, task)
}

#[tokio::test(start_paused = true)]
async fn misfire_run_once_runs_one_catch_up_for_three_days_down_then_keeps_the_schedule() {
    let (harness, task) = three_days_down(MisfirePolicy::RunOnce, 100).await;
    let executions = harness.executions(&task).await;
    let seen: Vec<(String, Trigger, String)> = executions
        .iter()
        .map(|e| (e.scheduled_for.to_string(), e.trigger, e.started_at.expect("started").to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-01-04T00:00:00Z".to_owned(), Trigger::CatchUp, "2026-01-04T00:30:00Z".to_owned()),
            ("2026-01-04T01:00:00Z".to_owned(), Trigger::Schedule, "2026-01-04T01:00:00Z".to_owned()),
            ("2026-01-04T02:00:00Z".to_owned(), Trigger::Schedule, "2026-01-04T02:00:00Z".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn misfire_skip_runs_nothing_for_three_days_down_and_records_what_was_missed() {
    let (harness, task) = three_days_down(MisfirePolicy::Skip, 100).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 3);
    assert_eq!(executions[0].status, ExecutionStatus::Skipped);
    assert_eq!(executions[0].trigger, Trigger::CatchUp);
    assert_eq!(
        executions[0].error.as_deref(),
        Some(
            "72 occurrence(s) from 2026-01-01T01:00:00Z to 2026-01-04T00:00:00Z were missed \
             (misfire policy skip)"
        )
    );
    assert_eq!(harness.bus.calls().len(), 2);
    assert_eq!(harness.bus.calls()[0].at, at("2026-01-04T01:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn misfire_run_all_runs_each_missed_occurrence_one_after_another_up_to_the_bound() {
    let (harness, task) = three_days_down(MisfirePolicy::RunAll, 10).await;
    let executions = harness.executions(&task).await;
    let dropped = &executions[0];
    assert_eq!(dropped.status, ExecutionStatus::Skipped);
    assert!(dropped.error.as_deref().unwrap_or("").contains("the 62 oldest were dropped"));
    let catch_up: Vec<_> =
        executions.iter().filter(|e| e.trigger == Trigger::CatchUp && e.status == ExecutionStatus::Completed).collect();
    assert_eq!(catch_up.len(), 10);
    let mut slots: Vec<String> = catch_up.iter().map(|e| e.scheduled_for.to_string()).collect();
    slots.sort();
    assert_eq!(slots.first().map(String::as_str), Some("2026-01-03T15:00:00Z"));
    assert_eq!(slots.last().map(String::as_str), Some("2026-01-04T00:00:00Z"));
    let scheduled: Vec<_> = executions.iter().filter(|e| e.trigger == Trigger::Schedule).collect();
    assert_eq!(scheduled.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_forward_wall_clock_jump_applies_the_misfire_policy() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("minutely", "ok", "1m").await;
    let engine = harness.start().await;
    pass(secs(90)).await;
    harness.clock.jump(secs(3 * 3_600));
    engine.handle().wake();
    pass(secs(1)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 2);
    assert_eq!(executions[1].trigger, Trigger::CatchUp);
    assert_eq!(executions[1].scheduled_for, at("2026-01-01T03:01:00Z"));
    let task = harness.reload(&task).await;
    assert_eq!(task.next_run_at, Some(at("2026-01-01T03:02:00Z")));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn runs_left_running_by_a_crashed_engine_become_interrupted_and_are_retried() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("long", Behaviour::Take(secs(600)));
    let task = harness.create_with("long", "long", "1h", |task| task.retries = 2).await;
    let engine = harness.start().await;
    pass(secs(3_600 + 60)).await;
    assert_eq!(engine.handle().running(), 1);
    drop(engine); // A crash: nothing more is recorded.
    pass(secs(60)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, ExecutionStatus::Running);

    let bus = Arc::new(FakeBus::new(harness.clock.clone()));
    bus.on("long", Behaviour::Take(secs(600)));
    let engine = harness.start_other("local", bus.clone()).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions[0].status, ExecutionStatus::Interrupted);
    assert_eq!(executions[0].finished_at, Some(at("2026-01-01T01:02:00Z")));
    assert_eq!(executions[1].status, ExecutionStatus::Queued);
    assert_eq!(executions[1].trigger, Trigger::Retry);
    assert_eq!(bus.event_kinds(executions[0].id), ["interrupted"]);
    pass(secs(10)).await;
    let calls = bus.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].attempt, 2);
    assert_eq!(calls[0].scheduled_for, at("2026-01-01T01:00:00Z"));
    assert_eq!(calls[0].at, at("2026-01-01T01:02:05Z"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_pending_retry_survives_a_restart() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness
        .create_with("retry-later", "fail", "2026-01-01T00:00:10Z", |task| {
            task.retries = 1;
            task.retry_delay = secs(120);
        })
        .await;
    let engine = harness.start().await;
    pass(secs(20)).await;
    engine.stop().await;
    pass(secs(600)).await;
    let engine = harness.start().await;
    pass(secs(1)).await;
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].attempt, 2);
    assert_eq!(calls[1].trigger, Trigger::Retry);
    assert_eq!(calls[1].at, at("2026-01-01T00:10:20Z"));
    let _ = task;
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_runs_that_end_within_the_grace() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.shutdown_grace = 10_000;
    harness.bus.on("short", Behaviour::Take(secs(3)));
    let task = harness.create("short", "short", "2026-01-01T00:00:05Z").await;
    let engine = harness.start().await;
    pass(secs(6)).await;
    let report = engine.stop().await;
    assert_eq!(report.interrupted, 0);
    let executions = harness.executions(&task).await;
    assert_eq!(executions[0].status, ExecutionStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn stop_interrupts_runs_still_going_after_the_grace_and_queues_their_retry() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.shutdown_grace = 5_000;
    harness.bus.on("stuck", Behaviour::Hang);
    let task = harness.create_with("stuck", "stuck", "2026-01-01T00:00:05Z", |task| task.retries = 1).await;
    let engine = harness.start().await;
    pass(secs(6)).await;
    let report = engine.stop().await;
    assert_eq!(report.interrupted, 1);
    assert!(harness.bus.calls()[0].cancel.is_cancelled());
    let executions = harness.executions(&task).await;
    assert_eq!(executions[0].status, ExecutionStatus::Interrupted);
    assert_eq!(executions[1].status, ExecutionStatus::Queued);
    assert_eq!(executions[1].trigger, Trigger::Retry);
}

#[tokio::test(start_paused = true)]
async fn two_engines_on_one_database_never_run_an_occurrence_twice() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    // Neither engine can hold all 40 runs of a second (each takes 300 ms), so the other
    // always has work: the test is about claims racing, not about which engine is faster.
    harness.config.max_concurrent_tasks = 25;
    for n in 0..40 {
        harness.create(&format!("t{n}"), "ok", "1s").await;
    }
    let bus_a = Arc::new(FakeBus::new(harness.clock.clone()));
    let bus_b = Arc::new(FakeBus::new(harness.clock.clone()));
    bus_a.on("ok", Behaviour::Take(std::time::Duration::from_millis(300)));
    bus_b.on("ok", Behaviour::Take(std::time::Duration::from_millis(300)));
    let a = harness.start_other("node-a", bus_a.clone()).await;
    let b = harness.start_other("node-b", bus_b.clone()).await;
    // Stop before the occurrences at 31 s are claimed ahead (500 ms early).
    pass(secs(30) + std::time::Duration::from_millis(200)).await;
    a.stop().await;
    b.stop().await;

    let calls: Vec<_> = bus_a.calls().into_iter().chain(bus_b.calls()).collect();
    assert!(!bus_a.calls().is_empty() && !bus_b.calls().is_empty(), "both engines worked");
    let mut seen = HashSet::new();
    for call in &calls {
        let key = (call.execution_id, call.scheduled_for);
        assert!(seen.insert(key), "dispatched twice: {key:?}");
    }
    let occurrences: u64 = harness
        .sqlite
        .with_reader(|conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*), COUNT(DISTINCT task_id || '@' || scheduled_for) FROM task_executions",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )?)
        })
        .await
        .map(|(rows, distinct)| {
            assert_eq!(rows, distinct, "one row per occurrence");
            rows as u64
        })
        .expect("count");
    assert_eq!(occurrences, 40 * 30);
    assert_eq!(calls.len() as u64, occurrences);
}

#[tokio::test(start_paused = true)]
async fn cleanup_deletes_history_older_than_the_retention_in_batches() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.history_retention_days = 1;
    harness.config.cleanup_interval = 3_600_000;
    let task = harness.create("every-5m", "ok", "5m").await;
    let engine = harness.start().await;
    pass(secs(3 * 86_400 + 60)).await;
    engine.stop().await;
    let executions = harness.executions(&task).await;
    // Cleanup ran at 72:00 last; it kept everything finished after 48:00 (288 + 1 rows).
    let oldest = executions.first().expect("some history").finished_at.expect("finished");
    assert!(oldest >= at("2026-01-03T00:00:00Z"), "oldest kept {oldest}");
    assert_eq!(executions.len(), 12 * 24 + 1);
    assert_eq!(harness.reload(&task).await.counters.runs, 3 * 24 * 12);

    let deleted = harness.store.cleanup(at("2026-01-04T00:00:00Z"), 100).await.expect("cleanup");
    assert_eq!(deleted.executions, 100, "one bounded batch");
}

#[tokio::test(start_paused = true)]
async fn an_execution_claimed_ahead_by_a_crashed_engine_runs_after_restart_as_the_same_attempt() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.claim_ahead = 500;
    let task = harness.create_with("soon", "ok", "2026-01-01T00:00:10Z", |task| task.retries = 1).await;
    let engine = harness.start().await;
    pass(secs(9) + std::time::Duration::from_millis(700)).await;
    // Claimed ahead (row written, planned start 00:00:10) but not dispatched yet: it does
    // not show `running` before its start.
    assert_eq!(harness.executions(&task).await[0].status, ExecutionStatus::Queued);
    assert!(harness.bus.calls().is_empty());
    drop(engine);
    pass(secs(60)).await;
    let engine = harness.start().await;
    pass(secs(10)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1, "the claim was returned to the queue, not interrupted: {executions:?}");
    assert_eq!(executions[0].status, ExecutionStatus::Completed);
    assert_eq!(executions[0].attempt, 1, "no retry was consumed");
    assert_eq!(executions[0].trigger, Trigger::Schedule);
    assert_eq!(executions[0].scheduled_for, at("2026-01-01T00:00:10Z"));
    assert_eq!(harness.bus.calls().len(), 1);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_of_an_engine_that_crashed_and_restarted_inside_the_claim_ahead_window_runs_on_its_instant() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.claim_ahead = 500;
    let task = harness.create("every-10s", "ok", "10s").await;
    let engine = harness.start().await;
    pass(secs(9) + std::time::Duration::from_millis(600)).await;
    drop(engine);
    pass(std::time::Duration::from_millis(100)).await;
    let engine = harness.start().await;
    pass(secs(1)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].status, ExecutionStatus::Completed);
    assert_eq!(executions[0].attempt, 1);
    assert_eq!(executions[0].started_at, Some(at("2026-01-01T00:00:10Z")), "never started before its instant");
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].at, at("2026-01-01T00:00:10Z"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleting_a_running_task_and_cancelling_its_runs_leaves_the_history() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("long", Behaviour::Take(secs(600)));
    let task = harness.create("doomed", "long", "2026-01-01T00:00:05Z").await;
    let engine = harness.start().await;
    pass(secs(10)).await;
    assert!(harness.store.delete_task(task.id.clone(), harness.now()).await.expect("delete"));
    assert_eq!(engine.handle().cancel_task(&task.id), 1);
    pass(secs(1)).await;
    assert!(harness.bus.calls()[0].cancel.is_cancelled());
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, ExecutionStatus::Cancelled);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_paused_task_keeps_its_pending_retry_until_resumed() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create_with("flaky", "fail", "2026-01-01T00:00:05Z", |task| task.retries = 1).await;
    let engine = harness.start().await;
    pass(secs(6)).await;
    harness.store.pause_task(task.id.clone(), harness.now()).await.expect("pause");
    pass(secs(600)).await;
    assert_eq!(harness.bus.calls().len(), 1, "no retry while paused");
    let resumed = harness.store.resume_task(task.id.clone(), harness.now()).await.expect("resume");
    assert_eq!(resumed.next_run_at, None, "its single occurrence was already claimed");
    engine.handle().wake();
    pass(secs(1)).await;
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].trigger, Trigger::Retry);
    assert_eq!(harness.executions(&task).await.len(), 2, "no catch-up of the same occurrence");
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_made_ahead_shows_running_once_its_run_lasts_and_a_short_run_goes_straight_to_its_outcome() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.claim_ahead = 500;
    harness.bus.on("long", Behaviour::Take(secs(5)));
    let long = harness.create("long", "long", "2026-01-01T00:00:10Z").await;
    let short = harness.create("short", "ok", "2026-01-01T00:00:10Z").await;
    let engine = harness.start().await;
    pass(secs(10) + std::time::Duration::from_millis(50)).await;
    // Both were dispatched at 00:00:10; the short one is done, the long one not yet marked.
    assert_eq!(harness.bus.calls().len(), 2);
    assert_eq!(harness.executions(&short).await[0].status, ExecutionStatus::Completed);
    assert_eq!(harness.executions(&long).await[0].status, ExecutionStatus::Queued);
    pass(std::time::Duration::from_millis(100)).await;
    assert_eq!(harness.executions(&long).await[0].status, ExecutionStatus::Running);
    pass(secs(5)).await;
    assert_eq!(harness.executions(&long).await[0].status, ExecutionStatus::Completed);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_within_the_marking_delay_of_a_dispatch_returns_the_claim_as_the_same_attempt() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.claim_ahead = 500;
    harness.bus.on("long", Behaviour::Take(secs(5)));
    let task = harness.create_with("long", "long", "2026-01-01T00:00:10Z", |task| task.retries = 1).await;
    let engine = harness.start().await;
    pass(secs(10) + std::time::Duration::from_millis(50)).await;
    assert_eq!(harness.bus.calls().len(), 1);
    drop(engine);
    pass(secs(60)).await;
    let engine = harness.start().await;
    pass(secs(10)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1, "returned to the queue, not interrupted: {executions:?}");
    assert_eq!((executions[0].status, executions[0].attempt), (ExecutionStatus::Completed, 1));
    assert_eq!(harness.bus.calls().len(), 2, "the attempt ran again after the restart");
    engine.stop().await;
}
