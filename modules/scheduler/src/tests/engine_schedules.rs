//! Each schedule kind fires at the right instants over simulated days.

use super::{Harness, at, pass, secs};
use crate::task::{ExecutionStatus, TaskStatus, Trigger};

#[tokio::test(start_paused = true)]
async fn interval_task_fires_every_interval_over_a_simulated_day() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("hourly", "ok", "1h").await;
    let engine = harness.start().await;
    pass(secs(24 * 3600 + 1)).await;

    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 24);
    for (k, call) in calls.iter().enumerate() {
        let due = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(k as i64 + 1);
        assert_eq!(call.scheduled_for, due);
        assert_eq!(call.at, due, "fired exactly on time");
        assert_eq!(call.trigger, Trigger::Schedule);
    }
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 24);
    assert!(executions.iter().all(|e| e.status == ExecutionStatus::Completed));
    let task = harness.reload(&task).await;
    assert_eq!(task.counters.runs, 24);
    assert_eq!(task.next_run_at, Some(at("2026-01-02T01:00:00Z")));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cron_task_fires_at_its_wall_times_over_simulated_days() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.create("six-hourly", "ok", "0 */6 * * *").await;
    let engine = harness.start().await;
    pass(secs(2 * 86_400 + 60)).await;

    let fired: Vec<String> = harness.bus.calls().iter().map(|c| c.at.to_string()).collect();
    assert_eq!(
        fired,
        [
            "2026-01-01T06:00:00Z",
            "2026-01-01T12:00:00Z",
            "2026-01-01T18:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-02T06:00:00Z",
            "2026-01-02T12:00:00Z",
            "2026-01-02T18:00:00Z",
            "2026-01-03T00:00:00Z",
        ]
    );
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cron_task_in_a_time_zone_fires_at_local_times_across_a_dst_change() {
    let harness = Harness::new("2026-03-06T00:00:00Z");
    let schedule =
        crate::task::TaskSchedule::parse("0 9 * * *", Some("America/New_York".to_owned()), None, harness.now())
            .expect("valid");
    let mut new = harness.new_task("nine-am", "ok", "manual");
    new.schedule = schedule;
    harness.store.create_task(new, harness.now()).await.expect("created");
    let engine = harness.start().await;
    pass(secs(4 * 86_400)).await;

    let fired: Vec<String> = harness.bus.calls().iter().map(|c| c.at.to_string()).collect();
    // 09:00 EST is 14:00Z; from 2026-03-08 (DST) 09:00 EDT is 13:00Z.
    assert_eq!(
        fired,
        ["2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z",]
    );
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn once_task_fires_once_and_becomes_completed() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("once", "ok", "2026-01-01T00:01:30Z").await;
    assert_eq!(task.next_run_at, Some(at("2026-01-01T00:01:30Z")));
    let engine = harness.start().await;
    pass(secs(86_400)).await;

    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].at, at("2026-01-01T00:01:30Z"));
    let task = harness.reload(&task).await;
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.next_run_at, None);
    assert_eq!(task.last_status, Some(ExecutionStatus::Completed));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn once_task_scheduled_now_runs_at_once() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let engine = harness.start().await;
    let task = harness.create("migrate", "ok", "now").await;
    engine.handle().wake();
    pass(secs(1)).await;
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].at, at("2026-01-01T00:00:00Z"));
    assert_eq!(harness.reload(&task).await.status, TaskStatus::Completed);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn manual_task_never_fires_by_itself_but_runs_on_demand() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("by-hand", "ok", "manual").await;
    assert_eq!(task.next_run_at, None);
    let engine = harness.start().await;
    pass(secs(3 * 86_400)).await;
    assert!(harness.bus.calls().is_empty());

    let handle = engine.handle();
    let id = handle.run_now(task.id.clone()).await.expect("run").id;
    let execution = handle.await_run(id).await.expect("await");
    assert_eq!(execution.status, ExecutionStatus::Completed);
    assert_eq!(execution.trigger, Trigger::Manual);
    assert_eq!(execution.output, Some(serde_json::json!({"ok": true})));
    assert_eq!(harness.bus.calls()[0].at, at("2026-01-04T00:00:00Z"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_task_due_at_an_instant_starts_within_milliseconds_even_with_a_long_tick() {
    let mut harness = Harness::new("2026-01-01T11:59:58.700Z");
    harness.config.tick_interval = 600_000;
    harness.create("noon", "ok", "2026-01-01T12:00:00Z").await;
    let engine = harness.start().await;
    pass(secs(5)).await;
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 1);
    let late = calls[0].at.duration_since(at("2026-01-01T12:00:00Z"));
    assert!(late >= jiff::SignedDuration::ZERO && late.as_millis() <= 1, "late by {late:?}");
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn next_run_advances_from_the_scheduled_time_not_from_now() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("slow", crate::testing::Behaviour::Take(secs(7)));
    let task = harness.create("slow", "slow", "10s").await;
    let engine = harness.start().await;
    pass(secs(108)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 10);
    for (k, execution) in executions.iter().enumerate() {
        let due = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_secs(10 * (k as i64 + 1));
        assert_eq!(execution.scheduled_for, due, "no drift after {k} slow runs");
        assert_eq!(execution.started_at, Some(due));
        assert_eq!(execution.duration_ms, Some(7_000));
    }
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_paused_task_does_not_fire_and_resume_counts_from_now() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("paused", "ok", "1m").await;
    let engine = harness.start().await;
    pass(secs(150)).await;
    harness.store.pause_task(task.id.clone(), harness.now()).await.expect("pause");
    pass(secs(600)).await;
    assert_eq!(harness.bus.calls().len(), 2);
    let resumed = harness.store.resume_task(task.id.clone(), harness.now()).await.expect("resume");
    engine.handle().wake();
    // Resumed at 00:12:30; the interval stays anchored at creation: next slot 00:13:00.
    assert_eq!(resumed.next_run_at, Some(at("2026-01-01T00:13:00Z")));
    pass(secs(60)).await;
    assert_eq!(harness.bus.calls().len(), 3);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn events_carry_the_documented_payload() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("evented", "ok", "1m").await;
    let engine = harness.start().await;
    pass(secs(61)).await;
    let events = harness.bus.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|(name, _)| name == "task-event"));
    let completed = &events[1].1;
    let execution_id = completed["execution_id"].as_i64().expect("an id");
    assert_eq!(
        completed,
        &serde_json::json!({
            "event": "completed",
            "task_id": task.id.to_string(),
            "name": "evented",
            "tenant": "default",
            "execution_id": execution_id,
            "scheduled_for": "2026-01-01T00:01:00Z",
            "at": "2026-01-01T00:01:00Z",
            "attempt": 1,
            "trigger": "schedule",
            "status": "completed",
            "duration_ms": 0,
            "error": null,
            "retry_at": null,
            "idempotency_key": format!("{}:2026-01-01T00:01:00Z", task.id),
        })
    );
    assert_eq!(events[0].1["event"], "executed");
    assert_eq!(events[0].1["status"], "running");
    assert_eq!(events[0].1["at"], "2026-01-01T00:01:00Z", "dispatched on its instant");
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_task_is_claimed_ahead_and_dispatched_on_its_instant_but_a_busy_one_waits() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.claim_ahead = 500;
    harness.bus.on("slow", crate::testing::Behaviour::Take(secs(9) + std::time::Duration::from_millis(800)));
    let idle = harness.create("idle", "ok", "10s").await;
    let busy = harness.create("busy", "slow", "10s").await;
    let engine = harness.start().await;
    pass(secs(19) + std::time::Duration::from_millis(600)).await;
    // At 19.6 s the idle task's 20 s occurrence is already claimed (planned start 20 s) but
    // not dispatched; the busy task (running until 19.8 s) is left for its due time.
    let idle_rows = harness.executions(&idle).await;
    assert_eq!(idle_rows.len(), 2);
    // A claim, not a run: it shows `queued` until it starts.
    assert_eq!(idle_rows[1].status, ExecutionStatus::Queued);
    assert_eq!(idle_rows[1].started_at, Some(at("2026-01-01T00:00:20Z")));
    // The task says its last run started when the execution says, not at the claim.
    assert_eq!(harness.reload(&idle).await.last_run_at, Some(at("2026-01-01T00:00:20Z")));
    assert_eq!(harness.bus.calls_of("ok").len(), 1);
    assert_eq!(harness.executions(&busy).await.len(), 1);
    pass(std::time::Duration::from_millis(500)).await;
    let ok_calls = harness.bus.calls_of("ok");
    assert_eq!(ok_calls.len(), 2);
    assert_eq!(ok_calls[1].at, at("2026-01-01T00:00:20Z"));
    assert_eq!(harness.executions(&idle).await[1].status, ExecutionStatus::Completed);
    let slow_calls = harness.bus.calls_of("slow");
    assert_eq!(slow_calls.len(), 2, "the busy task ran at its due time, not skipped");
    assert_eq!(slow_calls[1].at, at("2026-01-01T00:00:20Z"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn task_data_reaches_the_bus_as_the_json_it_was_created_with() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let data = serde_json::json!({ "to": "ops", "n": [1, 2.5, null], "nested": { "ü": "\u{1F600}" } });
    harness.create_with("payload", "ok", "2026-01-01T00:00:10Z", |task| task.data = data.clone()).await;
    let engine = harness.start().await;
    pass(secs(11)).await;
    let calls = harness.bus.calls_of("ok");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].data, data, "scheduled runs and retries carry the task's data unchanged");
    engine.stop().await;
}
