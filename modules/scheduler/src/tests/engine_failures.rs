//! Failures: retries with backoff, timeouts, unknown commands, once tasks that fail.

use super::{Harness, at, pass, secs};
use systemprompt_module_sdk::RetryHint;

use crate::engine::DispatchError;
use crate::task::{ExecutionStatus, TaskStatus, Trigger};
use crate::testing::Behaviour;

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_retried_with_exponential_backoff_until_it_succeeds() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on(
        "flaky",
        Behaviour::Script(vec![
            Behaviour::Fail("first".to_owned()),
            Behaviour::Fail("second".to_owned()),
            Behaviour::Succeed(serde_json::json!({"third": "time lucky"})),
        ]),
    );
    let task = harness.create_with("flaky", "flaky", "2026-01-01T00:01:00Z", |task| task.retries = 3).await;
    let engine = harness.start().await;
    pass(secs(120)).await;

    let calls = harness.bus.calls();
    let times: Vec<String> = calls.iter().map(|c| c.at.to_string()).collect();
    // Default delay 5 s, doubling: 00:01:00, +5 s, +10 s.
    assert_eq!(times, ["2026-01-01T00:01:00Z", "2026-01-01T00:01:05Z", "2026-01-01T00:01:15Z"]);
    let executions = harness.executions(&task).await;
    let summary: Vec<(u32, Trigger, ExecutionStatus)> =
        executions.iter().map(|e| (e.attempt, e.trigger, e.status)).collect();
    assert_eq!(
        summary,
        [
            (1, Trigger::Schedule, ExecutionStatus::Failed),
            (2, Trigger::Retry, ExecutionStatus::Failed),
            (3, Trigger::Retry, ExecutionStatus::Completed),
        ]
    );
    assert!(executions.iter().all(|e| e.scheduled_for == at("2026-01-01T00:01:00Z")));
    assert_eq!(executions[1].retry_of, Some(executions[0].id));
    assert_eq!(harness.bus.event_kinds(executions[0].id), ["executed", "failed"]);
    assert_eq!(harness.bus.event_kinds(executions[1].id), ["retrying", "executed", "failed"]);
    let task = harness.reload(&task).await;
    assert_eq!(task.counters.runs, 3);
    assert_eq!(task.counters.failures, 2);
    assert_eq!(task.counters.successes, 1);
    assert_eq!(task.counters.consecutive_failures, 0);
    assert_eq!(task.status, TaskStatus::Completed);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn retries_zero_means_no_retry_not_the_default() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    assert_eq!(harness.config.default_retries, 3);
    let task = harness.create_with("no-retry", "fail", "2026-01-01T00:00:10Z", |task| task.retries = 0).await;
    assert_eq!(task.retries, 0);
    let engine = harness.start().await;
    pass(secs(3600)).await;
    assert_eq!(harness.bus.calls().len(), 1);
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, ExecutionStatus::Failed);
    let task = harness.reload(&task).await;
    assert_eq!(task.last_status, Some(ExecutionStatus::Failed));
    assert_eq!(task.status, TaskStatus::Completed);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_cancelled_before_its_retry_starts() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("stuck", Behaviour::Hang);
    let task = harness
        .create_with("stuck", "stuck", "2026-01-01T00:00:10Z", |task| {
            task.retries = 1;
            task.timeout = secs(30);
        })
        .await;
    let engine = harness.start().await;
    pass(secs(120)).await;

    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].timeout, secs(30));
    let first_cancelled = calls[0].cancelled_at.lock().expect("lock").expect("cancelled");
    assert_eq!(first_cancelled, at("2026-01-01T00:00:40Z"));
    assert!(first_cancelled < calls[1].at, "cancelled before the retry started");
    assert_eq!(calls[1].at, at("2026-01-01T00:00:45Z"));
    let executions = harness.executions(&task).await;
    assert_eq!(executions[0].status, ExecutionStatus::Timeout);
    assert_eq!(executions[0].duration_ms, Some(30_000));
    assert!(executions[0].error.as_deref().unwrap_or("").contains("timed out after 30000 ms"));
    assert_eq!(executions[1].status, ExecutionStatus::Timeout);
    assert_eq!(harness.bus.event_kinds(executions[0].id), ["executed", "timeout"]);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unknown_command_fails_without_retry_and_says_why() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create_with("typo", "sytem:helth", "2026-01-01T00:00:10Z", |task| task.retries = 3).await;
    let engine = harness.start().await;
    pass(secs(3600)).await;
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, ExecutionStatus::Failed);
    assert_eq!(executions[0].error.as_deref(), Some("unknown command 'sytem:helth': no module owns this command"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_run_that_failed_after_all_retries_still_fires_at_its_next_slot() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create_with("always-fails", "fail", "1m", |task| task.retries = 1).await;
    let engine = harness.start().await;
    pass(secs(3 * 60 + 30)).await;
    let executions = harness.executions(&task).await;
    let seen: Vec<(String, u32)> =
        executions.iter().map(|e| (e.started_at.expect("started").to_string(), e.attempt)).collect();
    assert_eq!(
        seen,
        [
            ("2026-01-01T00:01:00Z".to_owned(), 1),
            ("2026-01-01T00:01:05Z".to_owned(), 2),
            ("2026-01-01T00:02:00Z".to_owned(), 1),
            ("2026-01-01T00:02:05Z".to_owned(), 2),
            ("2026-01-01T00:03:00Z".to_owned(), 1),
            ("2026-01-01T00:03:05Z".to_owned(), 2),
        ]
    );
    let task = harness.reload(&task).await;
    assert_eq!(task.counters.consecutive_failures, 6);
    assert_eq!(task.status, TaskStatus::Active);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_once_task_whose_run_failed_is_completed_with_last_status_failed() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create_with("once-fails", "fail", "2026-01-01T00:00:10Z", |task| task.retries = 2).await;
    let engine = harness.start().await;
    pass(secs(12)).await;
    // The task stays active while retries remain.
    assert_eq!(harness.reload(&task).await.status, TaskStatus::Active);
    pass(secs(3600)).await;
    assert_eq!(harness.bus.calls().len(), 3);
    let task = harness.reload(&task).await;
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.last_status, Some(ExecutionStatus::Failed));
    assert_eq!(task.last_error.as_deref(), Some("test_failure: boom"));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_running_execution_fires_its_token_and_does_not_retry() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("long", Behaviour::Take(secs(600)));
    let task = harness.create_with("long", "long", "manual", |task| task.retries = 3).await;
    let engine = harness.start().await;
    let handle = engine.handle();
    let id = handle.run_now(task.id.clone()).await.expect("run").id;
    pass(secs(5)).await;
    assert!(handle.cancel(id).await.expect("cancel"));
    let execution = handle.await_run(id).await.expect("await");
    assert_eq!(execution.status, ExecutionStatus::Cancelled);
    assert!(harness.bus.calls()[0].cancel.is_cancelled());
    assert_eq!(harness.executions(&task).await.len(), 1);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_output_over_max_output_bytes_is_stored_truncated_with_a_marker() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.max_output_bytes = 1_024;
    harness.bus.on("chatty", Behaviour::Succeed(serde_json::json!({ "blob": "x".repeat(10_000) })));
    harness.bus.on("quiet", Behaviour::Succeed(serde_json::json!({ "blob": "small" })));
    let chatty = harness.create("chatty", "chatty", "2026-01-01T00:00:05Z").await;
    let quiet = harness.create("quiet", "quiet", "2026-01-01T00:00:05Z").await;
    let engine = harness.start().await;
    pass(secs(10)).await;
    engine.stop().await;
    let stored = harness.executions(&chatty).await[0].output.clone().expect("an output");
    assert!(stored.to_string().len() <= 1_024, "{} bytes stored", stored.to_string().len());
    assert_eq!(stored["truncated"], "the output took 10011 bytes, over maxOutputBytes (1024); only its start is kept");
    assert_eq!(stored["bytes"], 10_011);
    assert!(stored["head"].as_str().expect("head").starts_with("{\"blob\":\"xxx"));
    let kept = harness.executions(&quiet).await[0].output.clone().expect("an output");
    assert_eq!(kept, serde_json::json!({ "blob": "small" }), "a small output is kept as it is");
}

#[tokio::test(start_paused = true)]
async fn an_error_message_over_max_output_bytes_is_stored_truncated_with_a_marker() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.max_output_bytes = 1_024;
    harness.bus.on("loud", Behaviour::Fail("e".repeat(10_000)));
    let task = harness.create_with("loud", "loud", "2026-01-01T00:00:05Z", |task| task.retries = 0).await;
    let engine = harness.start().await;
    pass(secs(10)).await;
    engine.stop().await;
    let error = harness.executions(&task).await[0].error.clone().expect("an error");
    assert!(error.len() <= 1_024, "{} bytes stored", error.len());
    assert!(error.ends_with("… [truncated: the error took 10014 bytes, over maxOutputBytes (1024)]"), "{error}");
    assert!(error.starts_with("test_failure: eee"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_failure_the_handler_calls_permanent_is_not_retried_and_keeps_its_details() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let details = serde_json::json!({"exit_code": 64, "stderr_tail": ["usage: backup DB"]});
    harness.bus.on(
        "usage",
        Behaviour::Reject(DispatchError::Failed {
            code: "exit_status".to_owned(),
            message: "exit code 64".to_owned(),
            details: Some(details.clone()),
            retry: Some(RetryHint::Never),
        }),
    );
    let task = harness.create_with("usage", "usage", "2026-01-01T00:00:10Z", |task| task.retries = 3).await;
    let engine = harness.start().await;
    pass(secs(3600)).await;
    assert_eq!(harness.bus.calls().len(), 1);
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, ExecutionStatus::Failed);
    assert_eq!(executions[0].error.as_deref(), Some("exit_status: exit code 64"));
    assert_eq!(executions[0].output, Some(details));
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_invalid_params_failure_is_permanent_without_advice() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.bus.on("picky", Behaviour::Reject(DispatchError::failed("invalid_params", "'program' is required")));
    let task = harness.create_with("picky", "picky", "2026-01-01T00:00:10Z", |task| task.retries = 3).await;
    let engine = harness.start().await;
    pass(secs(3600)).await;
    assert_eq!(harness.executions(&task).await.len(), 1);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_backoff_delays_the_retry_and_a_shorter_one_does_not() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let busy = |ms| {
        Behaviour::Reject(DispatchError::Failed {
            code: "http_status".to_owned(),
            message: "503 Service Unavailable".to_owned(),
            details: None,
            retry: Some(RetryHint::AfterMs(ms)),
        })
    };
    harness
        .bus
        .on("busy", Behaviour::Script(vec![busy(30_000), busy(1_000), Behaviour::Succeed(serde_json::json!({}))]));
    let task = harness.create_with("busy", "busy", "2026-01-01T00:01:00Z", |task| task.retries = 3).await;
    let engine = harness.start().await;
    pass(secs(300)).await;
    let times: Vec<String> = harness.bus.calls().iter().map(|c| c.at.to_string()).collect();
    // Backoff 5 s then 10 s; the first Retry-After (30 s) is longer, the second (1 s) is not.
    assert_eq!(times, ["2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z", "2026-01-01T00:01:40Z"]);
    let executions = harness.executions(&task).await;
    assert_eq!(executions.last().map(|e| e.status), Some(ExecutionStatus::Completed));
    engine.stop().await;
}
