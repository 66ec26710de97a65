//! In-process tests of the system module against the SDK's fake host.

use std::time::Duration;

use serde_json::json;
use system_api::{Echo, EchoParams, Sleep, SleepParams};
use systemprompt_module_sdk::testing::ModuleTest;

use crate::System;

fn module() -> ModuleTest<System> {
    ModuleTest::new(json!({})).unwrap()
}

#[tokio::test]
async fn echo_returns_its_message() {
    let test = module();
    let out = test.call::<Echo>(&EchoParams { message: "hi".into() }, Duration::from_secs(5)).await.unwrap();
    assert_eq!(out.message, "hi");
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_panic_error_and_the_module_serves_on() {
    let test = module();
    let error = test.call_json("system:panic", &json!({"message": "boom"}), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(error.code, "panic");
    assert!(error.message.contains("boom"), "{}", error.message);
    let out = test.call::<Echo>(&EchoParams { message: "still here".into() }, Duration::from_secs(5)).await.unwrap();
    assert_eq!(out.message, "still here");
}

#[tokio::test]
async fn sleep_past_its_deadline_times_out_and_the_handler_is_cancelled() {
    let test = module();
    let error =
        test.call::<Sleep>(&SleepParams { ms: 60_000, stop_ms: 0 }, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(error.code, "timeout");
    // The handler counts the cancellation it saw; wait for it, bounded.
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while test.module().sleeps_cancelled() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the handler never saw the cancellation");
}

#[tokio::test]
async fn fail_reports_the_given_message() {
    let test = module();
    let error = test.call_json("system:fail", &json!({"message": "nope"}), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!((error.code.as_str(), error.message.as_str()), ("failed", "nope"));
}

#[tokio::test]
async fn emit_publishes_under_the_module_namespace() {
    let test = module();
    test.call_json("system:emit", &json!({"event": "ping", "payload": {"n": 1}}), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(test.host().published(), vec![("system:ping".to_owned(), json!({"n": 1}))]);
}

#[tokio::test]
async fn bad_params_are_refused_with_the_rule() {
    let test = module();
    let error = test.call_json("system:sleep", &json!({"ms": "soon"}), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
    assert!(error.message.starts_with("system:sleep: invalid type"), "{}", error.message);
}

#[tokio::test]
async fn a_timed_out_caller_is_answered_only_after_the_cancelled_handler_stopped() {
    let test = module();
    let params = SleepParams { ms: 60_000, stop_ms: 300 };
    let error = test.call::<Sleep>(&params, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(error.code, "timeout");
    // The handler counts its cancellation once it has stopped: by now it has.
    assert_eq!(test.module().sleeps_cancelled(), 1);
}

#[tokio::test]
async fn a_handler_slower_to_stop_than_the_grace_is_abandoned_after_the_grace() {
    let test = module().with_cancel_grace(Duration::from_millis(100));
    let params = SleepParams { ms: 60_000, stop_ms: 60_000 };
    let started = std::time::Instant::now();
    let error = test.call::<Sleep>(&params, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(error.code, "timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "held {:?}", started.elapsed());
    assert_eq!(test.module().sleeps_cancelled(), 0, "the handler had not stopped; the caller did not wait for it");
}
