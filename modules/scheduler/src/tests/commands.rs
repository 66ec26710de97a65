//! The task commands through the module API, in-process against the SDK's fake host: the
//! paths the CLI cannot reach (it refuses first) and the typed request and event shapes.
//! The black-box tests in `tests/tests/scheduler_tasks.rs` cover the CLI end to end.

use std::time::Duration;

use scheduler_api::tasks::{
    CreateTask, CreateTaskParams, DeleteTask, DeleteTaskParams, GetTask, ListTasks, ListTasksParams,
    TaskLifecycleEvent, TaskRef,
};
use serde_json::json;
use systemprompt_module_sdk::testing::{FakeHost, ModuleTest};

use crate::Scheduler;

const WAIT: Duration = Duration::from_secs(10);

/// The scheduler on a fresh data dir, not started (no engine), whose host declares
/// `system:echo` only.
fn scheduler() -> ModuleTest<Scheduler> {
    let host = FakeHost::default();
    host.declares(&["system:echo"]);
    ModuleTest::with_host(json!({}), host).expect("the scheduler builds")
}

fn params(name: &str) -> CreateTaskParams {
    CreateTaskParams {
        name: name.to_owned(),
        command: Some("system:echo".to_owned()),
        schedule: "5m".to_owned(),
        ..CreateTaskParams::default()
    }
}

async fn task_count(module: &ModuleTest<Scheduler>) -> usize {
    module.call::<ListTasks>(&ListTasksParams::default(), WAIT).await.expect("list").len()
}

#[tokio::test]
async fn delete_through_the_module_api_needs_confirm() {
    let module = scheduler();
    let task = module.call::<CreateTask>(&params("keep"), WAIT).await.expect("created");
    let refused = DeleteTaskParams { id: "keep".to_owned(), tenant: None, confirm: false };
    let error = module.call::<DeleteTask>(&refused, WAIT).await.expect_err("refused");
    assert_eq!(error.code, "invalid_params");
    assert_eq!(error.message, "deleting task 'keep' needs confirm: true (--confirm); nothing was deleted");
    let kept = module.call::<GetTask>(&TaskRef { id: task.id.clone(), tenant: None }, WAIT).await.expect("kept");
    assert_eq!(kept, task);
    let confirmed = DeleteTaskParams { confirm: true, ..refused };
    assert_eq!(module.call::<DeleteTask>(&confirmed, WAIT).await.expect("deleted").deleted, task);
}

#[tokio::test]
async fn data_must_be_an_object_through_the_module_api_too() {
    let module = scheduler();
    for data in [json!([1, 2]), json!("text"), json!(7)] {
        let request = CreateTaskParams { data: Some(data), ..params("bad") };
        let error = module.call::<CreateTask>(&request, WAIT).await.expect_err("refused");
        assert_eq!(error.code, "invalid_params");
        assert!(error.message.starts_with("data must be a JSON object"), "{}", error.message);
    }
    let absent = module.call::<CreateTask>(&CreateTaskParams { data: None, ..params("absent") }, WAIT).await;
    assert_eq!(absent.expect("created").data, json!({}));
    let null = module
        .call_json(
            "scheduler:create",
            &json!({"name": "null", "command": "system:echo", "schedule": "5m", "data": null}),
            WAIT,
        )
        .await;
    assert_eq!(null.expect("created")["data"], json!({}));
    assert_eq!(task_count(&module).await, 2);
}

#[tokio::test]
async fn a_command_the_host_does_not_list_is_refused_before_anything_is_written() {
    let module = scheduler();
    let request = CreateTaskParams { command: Some("system:health".to_owned()), ..params("x") };
    let error = module.call::<CreateTask>(&request, WAIT).await.expect_err("refused");
    assert_eq!(
        error.message,
        "unknown command 'system:health': no loaded module declares it (see `systemprompt modules`)"
    );
    assert_eq!(task_count(&module).await, 0);
    assert!(module.host().published().is_empty());
}

#[tokio::test]
async fn unknown_fields_and_values_in_raw_json_are_refused() {
    let module = scheduler();
    let error = module
        .call_json(
            "scheduler:create",
            &json!({"name": "x", "command": "system:echo", "schedule": "5m", "colour": "red"}),
            WAIT,
        )
        .await
        .expect_err("refused");
    assert_eq!(error.code, "invalid_params");
    assert!(error.message.contains("unknown field `colour`"), "{}", error.message);
    let error = module
        .call_json(
            "scheduler:create",
            &json!({"name": "x", "command": "system:echo", "schedule": "5m", "overlap": "often"}),
            WAIT,
        )
        .await
        .expect_err("refused");
    assert!(
        error.message.contains("unknown variant `often`, expected one of `skip`, `queue`, `allow`"),
        "{}",
        error.message
    );
    assert_eq!(task_count(&module).await, 0);
}

#[tokio::test]
async fn run_now_without_a_running_engine_creates_nothing() {
    let module = scheduler();
    let error = module
        .call::<CreateTask>(&CreateTaskParams { run_now: true, ..params("now") }, WAIT)
        .await
        .expect_err("refused");
    assert_eq!(error.code, "unavailable");
    assert_eq!(task_count(&module).await, 0);
}

#[tokio::test]
async fn task_created_carries_the_view_the_command_returned() {
    let module = scheduler();
    let task = module.call::<CreateTask>(&params("announced"), WAIT).await.expect("created");
    let published = module.host().published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, "scheduler:task-created");
    let event: TaskLifecycleEvent = serde_json::from_value(published[0].1.clone()).expect("the documented payload");
    assert_eq!(
        event,
        TaskLifecycleEvent { task_id: task.id.clone(), name: task.name.clone(), tenant: "default".to_owned(), task }
    );
}
