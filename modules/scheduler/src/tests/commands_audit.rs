//! Audited changes through the module API (issue 8): a change and its audit row commit
//! together or not at all, only a real change is audited and announced, and audit rows never
//! hold task data values.

use std::time::Duration;

use scheduler_api::tasks::{
    CreateTask, CreateTaskParams, DeleteTask, DeleteTaskParams, GetTask, ListTasks, ListTasksParams, PauseTasks,
    TaskRef, TaskSelection, UpdateTask, UpdateTaskParams,
};
use serde_json::json;
use systemprompt_module_sdk::testing::{FakeHost, ModuleTest};

use crate::Scheduler;
use crate::task::{AuditEntry, TaskId};

const WAIT: Duration = Duration::from_secs(10);

/// The scheduler (not started) on a database in `dir`, whose host declares `system:echo`.
fn scheduler(dir: &tempfile::TempDir) -> ModuleTest<Scheduler> {
    let host = FakeHost::default();
    host.declares(&["system:echo"]);
    let config = json!({ "databasePath": dir.path().join("scheduler.db"), "maxAuditDetailBytes": 512 });
    ModuleTest::with_host(config, host).expect("the scheduler builds")
}

fn params(name: &str) -> CreateTaskParams {
    CreateTaskParams {
        name: name.to_owned(),
        command: Some("system:echo".to_owned()),
        schedule: "5m".to_owned(),
        ..CreateTaskParams::default()
    }
}

/// Makes every audit insert fail from now on, through a trigger (a fault inside SQLite).
fn break_audit(dir: &tempfile::TempDir) {
    let conn = rusqlite::Connection::open(dir.path().join("scheduler.db")).expect("open");
    conn.execute_batch(
        "CREATE TRIGGER audit_fails BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit write failed'); END;",
    )
    .expect("trigger");
}

/// Polls every future concurrently until all are done (no `futures` dependency).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|output| output.expect("every future finished")).collect()
}

async fn audit_rows(module: &ModuleTest<Scheduler>, task: Option<&str>) -> Vec<AuditEntry> {
    let task = task.map(|id| TaskId(id.to_owned()));
    module.module().store.audit(task, 1_000).await.expect("audit")
}

#[tokio::test]
async fn a_change_whose_audit_row_cannot_be_written_is_rolled_back() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let module = scheduler(&dir);
    let kept = module.call::<CreateTask>(&params("kept"), WAIT).await.expect("created");
    let published = module.host().published().len();
    break_audit(&dir);

    let error = module.call::<CreateTask>(&params("never"), WAIT).await.expect_err("refused");
    assert_eq!(error.code, "failed", "{error:?}");
    let tasks = module.call::<ListTasks>(&ListTasksParams::default(), WAIT).await.expect("list");
    assert_eq!(tasks.len(), 1, "no task without its audit row");

    let rename = UpdateTaskParams { id: "kept".to_owned(), name: Some("renamed".to_owned()), ..Default::default() };
    module.call::<UpdateTask>(&rename, WAIT).await.expect_err("refused");
    let pause = TaskSelection { id: Some("kept".to_owned()), tenant: None };
    module.call::<PauseTasks>(&pause, WAIT).await.expect_err("refused");
    let delete = DeleteTaskParams { id: "kept".to_owned(), tenant: None, confirm: true };
    module.call::<DeleteTask>(&delete, WAIT).await.expect_err("refused");

    let after = module.call::<GetTask>(&TaskRef { id: kept.id.clone(), tenant: None }, WAIT).await.expect("kept");
    assert_eq!(after, kept, "update, pause and delete were all rolled back");
    assert_eq!(module.host().published().len(), published, "nothing was announced");
    assert_eq!(audit_rows(&module, None).await.len(), 1, "only the first create's row");
}

#[tokio::test]
async fn concurrent_pauses_of_one_task_change_it_once_audit_it_once_and_announce_it_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let module = scheduler(&dir);
    let task = module.call::<CreateTask>(&params("contended"), WAIT).await.expect("created");
    let pause = TaskSelection { id: Some(task.id.clone()), tenant: None };
    let replies = join_all((0..10).map(|_| module.call::<PauseTasks>(&pause, WAIT)).collect()).await;
    let changed: usize = replies.into_iter().map(|reply| reply.expect("paused").tasks.len()).sum();
    assert_eq!(changed, 1, "exactly one pause changed the task");
    let rows: Vec<AuditEntry> =
        audit_rows(&module, Some(&task.id)).await.into_iter().filter(|row| row.action == "task.pause").collect();
    assert_eq!(rows.len(), 1);
    let paused = module.call::<GetTask>(&TaskRef { id: task.id.clone(), tenant: None }, WAIT).await.expect("get");
    assert_eq!(rows[0].at.to_string(), paused.updated_at, "the audit time is the change's time");
    let events = module.host().published().into_iter().filter(|(name, _)| name == "scheduler:task-paused").count();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn audit_rows_record_that_data_changed_never_its_values() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let module = scheduler(&dir);
    let create = CreateTaskParams { data: Some(json!({ "password": "hunter2" })), ..params("secretive") };
    let task = module.call::<CreateTask>(&create, WAIT).await.expect("created");
    let update =
        UpdateTaskParams { id: task.id.clone(), data: Some(json!({ "token": "s3cr3t-t0ken" })), ..Default::default() };
    module.call::<UpdateTask>(&update, WAIT).await.expect("updated");
    let rows = audit_rows(&module, Some(&task.id)).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let details = row.details.to_string();
        assert!(!details.contains("hunter2") && !details.contains("s3cr3t"), "{details}");
        assert!(row.details["data"].as_str().unwrap_or("").starts_with("<redacted: "), "{details}");
    }
    assert_eq!(rows[1].details["name"], "secretive", "other parameters are kept");
    let logs = module.host().logs().join("\n");
    assert!(!logs.contains("hunter2") && !logs.contains("s3cr3t"), "{logs}");
}

#[tokio::test]
async fn audit_details_over_the_cap_keep_only_the_field_names_with_a_marker() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let module = scheduler(&dir);
    let create = CreateTaskParams { schedule: format!("5m{}", " ".repeat(600)), ..params("long") };
    let task = module.call::<CreateTask>(&create, WAIT).await.expect("created");
    let rows = audit_rows(&module, Some(&task.id)).await;
    let details = &rows[0].details;
    assert!(details["truncated"].as_str().unwrap_or("").contains("over maxAuditDetailBytes (512)"), "{details}");
    assert!(details["fields"].as_array().expect("fields").contains(&json!("schedule")), "{details}");
}

#[tokio::test]
async fn a_bulk_pause_audits_each_task_it_changed_with_the_caller_and_the_outcome() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let module = scheduler(&dir);
    let a = module.call::<CreateTask>(&params("a"), WAIT).await.expect("created");
    let b = module.call::<CreateTask>(&params("b"), WAIT).await.expect("created");
    let pause_a = TaskSelection { id: Some(a.id.clone()), tenant: None };
    module.call::<PauseTasks>(&pause_a, WAIT).await.expect("paused");

    let all = TaskSelection { id: None, tenant: None };
    let changed = module.call::<PauseTasks>(&all, WAIT).await.expect("paused");
    let names: Vec<&str> = changed.tasks.iter().map(|task| task.name.as_str()).collect();
    assert_eq!(names, ["b"], "the store answers only the task it changed");

    let pauses: Vec<AuditEntry> =
        audit_rows(&module, None).await.into_iter().filter(|row| row.action == "task.pause").collect();
    let audited: Vec<Option<String>> = pauses.iter().map(|row| row.task_id.as_ref().map(|id| id.0.clone())).collect();
    assert_eq!(audited, [Some(b.id.clone()), Some(a.id.clone())], "newest first, one row per change");
    for row in &pauses {
        assert_eq!(row.actor, "test", "the bus caller asked");
        assert_eq!(row.details["outcome"], "paused", "{}", row.details);
    }
}
