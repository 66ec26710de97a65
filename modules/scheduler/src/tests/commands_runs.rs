//! The execution commands in-process (the SDK's fake host, no engine started): the rules
//! the handlers enforce that the CLI's own checks (`values:` in `module.yaml`) never let
//! through, called with the typed API other modules use.

use std::time::Duration;

use scheduler_api::runs::{
    HistoryParams, NextOutput, NextParams, NextRuns, RunParams, RunTask, TaskHistory, ValidateParams, ValidateSchedule,
};
use serde_json::json;
use systemprompt_module_sdk::testing::ModuleTest;

use crate::Scheduler;

const WAIT: Duration = Duration::from_secs(10);

fn module() -> ModuleTest<Scheduler> {
    ModuleTest::new(json!({})).expect("the scheduler builds with its defaults")
}

#[tokio::test]
async fn history_refuses_an_unknown_status_naming_every_allowed_one() {
    let test = module();
    let params = HistoryParams { status: Some("exploded".into()), ..HistoryParams::default() };
    let error = test.call::<TaskHistory>(&params, WAIT).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
    assert_eq!(
        error.message,
        "status must be queued, running, completed, failed, timeout, interrupted, skipped or cancelled, got 'exploded'"
    );
    let empty = test.call::<TaskHistory>(&HistoryParams::default(), WAIT).await.unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn next_takes_a_task_or_a_schedule_but_not_both_and_bounds_the_count() {
    let test = module();
    let both = NextParams { task: Some("a".into()), schedule: Some("5m".into()), ..NextParams::default() };
    let error = test.call::<NextRuns>(&both, WAIT).await.unwrap_err();
    assert_eq!((error.code.as_str(), error.message.as_str()), ("invalid_params", "give task or schedule, not both"));
    let many = NextParams { count: Some(1_001), ..NextParams::default() };
    let error = test.call::<NextRuns>(&many, WAIT).await.unwrap_err();
    assert_eq!(error.message, "count must be between 1 and 1000, got 1001");
    let interval = NextParams {
        schedule: Some("90m".into()),
        after: Some("2030-01-01T00:00:00Z".into()),
        count: Some(2),
        ..NextParams::default()
    };
    let NextOutput::Fires(fires) = test.call::<NextRuns>(&interval, WAIT).await.unwrap() else {
        panic!("no explain was asked for")
    };
    // An interval counts from the start instant.
    let utc: Vec<&str> = fires.iter().map(|fire| fire.utc.as_str()).collect();
    assert_eq!(utc, ["2030-01-01T01:30:00Z", "2030-01-01T03:00:00Z"]);
}

#[tokio::test]
async fn validate_answers_inline_and_names_the_bad_time_zone() {
    let test = module();
    let params = ValidateParams { schedule: "@hourly".into(), timezone: Some("Nowhere/City".into()), after: None };
    let error = test.call::<ValidateSchedule>(&params, WAIT).await.unwrap_err();
    assert_eq!(error.details, Some(json!({"field": "timezone", "kind": "schedule::unknown_time_zone"})));
    let params = ValidateParams { schedule: "manual".into(), timezone: None, after: None };
    let manual = test.call::<ValidateSchedule>(&params, WAIT).await.unwrap();
    assert_eq!((manual.kind.as_str(), manual.next.len()), ("manual", 0));
}

#[tokio::test]
async fn run_answers_not_found_before_it_needs_the_engine() {
    let test = module();
    let params = RunParams { id: "nosuch".into(), wait: true, ..RunParams::default() };
    let error = test.call::<RunTask>(&params, WAIT).await.unwrap_err();
    assert_eq!(error.code, "not_found");
    let params = RunParams { id: " ".into(), ..RunParams::default() };
    let error = test.call::<RunTask>(&params, WAIT).await.unwrap_err();
    assert_eq!(error.message, "id must name a task by id or name, got an empty string");
}
