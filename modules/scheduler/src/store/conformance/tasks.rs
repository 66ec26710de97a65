//! Conformance behaviours of tasks: names, lookups, lists, patches, pause and resume (one
//! task and all), deletion and audited changes (log lines: `logs`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{START, at, claim_at, create, executions, finish, finished, new_task, reload};
use crate::store::{AuditNote, ChangeOutcome, Store, StoreError, TaskChange, TaskFilter};
use crate::task::{ExecutionStatus, TaskKey, TaskPatch, TaskSchedule, TaskStatus};

fn note(action: &str) -> AuditNote {
    AuditNote { actor: "cli".to_owned(), action: action.to_owned(), details: json!({"by": "test"}) }
}

async fn switched(store: &Arc<dyn Store>, change: TaskChange, action: &str) -> Vec<crate::task::Task> {
    match store.change_audited(change, note(action), at(START)).await.expect("switched") {
        ChangeOutcome::Switched(tasks) => tasks,
        other => panic!("a pause or resume answers the tasks it switched, got {other:?}"),
    }
}

/// Behaviour: a name is unique within its tenant only.
pub async fn a_taken_name_is_refused_in_its_tenant_but_free_in_another(store: Arc<dyn Store>) {
    create(&store, new_task("backup", "ok", "1h")).await;
    let error = store.create_task(new_task("backup", "ok", "2h"), at(START)).await.expect_err("taken");
    assert!(matches!(&error, StoreError::NameTaken { .. }), "{error}");
    assert_eq!(error.to_string(), "a task named 'backup' already exists in tenant 'default'");
    let mut other = new_task("backup", "ok", "2h");
    other.tenant = "acme".to_owned();
    store.create_task(other, at(START)).await.expect("other tenant");
}

/// Behaviour: a task is found by id and by name, with every field it was created with.
pub async fn a_task_is_found_by_id_and_by_name_and_keeps_its_fields(store: Arc<dyn Store>) {
    let mut task = new_task("report", "report:send", "*/15 * * * *");
    task.data = json!({"to": "ops"});
    task.retries = 0;
    let created = create(&store, task).await;
    let by_id = reload(&store, &created).await;
    let name = TaskKey::Name { tenant: "default".to_owned(), name: "report".to_owned() };
    let by_name = store.get_task(name).await.expect("get").expect("found");
    assert_eq!(by_id.id, by_name.id);
    assert_eq!(by_id.command, "report:send");
    assert_eq!(by_id.data, json!({"to": "ops"}));
    assert_eq!(by_id.schedule.expression(), "*/15 * * * *");
    assert_eq!(by_id.retries, 0);
    assert_eq!(by_id.next_run_at, Some(at("2026-01-01T00:15:00Z")));
    let missing = TaskKey::Name { tenant: "default".to_owned(), name: "nope".to_owned() };
    assert!(store.get_task(missing).await.expect("get").is_none());
}

/// Behaviour: lists filter by status; bulk pause and resume answer exactly the tasks they
/// switched, in one change.
pub async fn list_filters_by_status_and_bulk_pause_and_resume_return_the_tasks_they_changed(store: Arc<dyn Store>) {
    let a = create(&store, new_task("a", "ok", "1h")).await;
    create(&store, new_task("b", "ok", "1h")).await;
    store.pause_task(a.id.clone(), at(START)).await.expect("pause");
    let paused =
        store.list_tasks(TaskFilter { status: Some(TaskStatus::Paused), ..TaskFilter::default() }).await.expect("list");
    assert_eq!(paused.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(paused[0].next_run_at, None, "a paused task has no next run");
    let paused = switched(&store, TaskChange::PauseAll(None), "task.pause").await;
    assert_eq!(paused.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"], "a was paused already");
    assert!(paused.iter().all(|t| t.status == TaskStatus::Paused && t.next_run_at.is_none()));
    let resumed = switched(&store, TaskChange::ResumeAll(None), "task.resume").await;
    assert_eq!(resumed.len(), 2);
    assert!(resumed.iter().all(|t| t.status == TaskStatus::Active));
    let active =
        store.list_tasks(TaskFilter { status: Some(TaskStatus::Active), ..TaskFilter::default() }).await.expect("list");
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|t| t.next_run_at == Some(at("2026-01-01T01:00:00Z"))));
    let mut other = new_task("c", "ok", "1h");
    other.tenant = "acme".to_owned();
    create(&store, other).await;
    let acme = switched(&store, TaskChange::PauseAll(Some("acme".to_owned())), "task.pause").await;
    assert_eq!(acme.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["c"], "only the tenant's tasks");
}

/// Behaviour: a change that changes nothing writes no audit row and answers no task.
pub async fn a_pause_of_a_paused_task_changes_nothing_and_audits_nothing(store: Arc<dyn Store>) {
    let task = create(&store, new_task("idle", "ok", "1h")).await;
    assert_eq!(switched(&store, TaskChange::Pause(task.id.clone()), "task.pause").await.len(), 1);
    assert!(switched(&store, TaskChange::Pause(task.id.clone()), "task.pause").await.is_empty());
    assert_eq!(store.audit(Some(task.id.clone()), 10).await.expect("audit").len(), 1);
}

/// Behaviour: a new schedule recomputes the next run from the change's instant; other
/// patches keep it.
pub async fn updating_the_schedule_recomputes_the_next_run_and_other_fields_keep_it(store: Arc<dyn Store>) {
    let task = create(&store, new_task("t", "ok", "1h")).await;
    let later = at("2026-01-01T00:10:00Z");
    let rename = TaskPatch { name: Some("renamed".to_owned()), ..TaskPatch::default() };
    let renamed = store.update_task(task.id.clone(), rename, later).await.expect("update");
    assert_eq!(renamed.next_run_at, Some(at("2026-01-01T01:00:00Z")));
    let schedule = TaskSchedule::parse("0 3 * * *", None, None, later).expect("valid");
    let patch = TaskPatch { schedule: Some(schedule), ..TaskPatch::default() };
    let rescheduled = store.update_task(task.id.clone(), patch, later).await.expect("update");
    assert_eq!(rescheduled.next_run_at, Some(at("2026-01-01T03:00:00Z")));
    assert_eq!(reload(&store, &task).await.name, "renamed");
}

/// Behaviour: a once task completes when its occurrence ends, and cannot be resumed.
pub async fn resume_refuses_a_completed_once_task(store: Arc<dyn Store>) {
    let task = create(&store, new_task("once", "ok", "now")).await;
    let outcome = claim_at(&store, START).await;
    let id = outcome.claimed[0].occurrence.execution_id;
    let done =
        finished(&store, finish(id, ExecutionStatus::Completed, "2026-01-01T00:00:01Z", Duration::from_secs(1))).await;
    assert!(done.task_completed);
    assert_eq!(reload(&store, &task).await.status, TaskStatus::Completed);
    let error = store.resume_task(task.id.clone(), at(START)).await.expect_err("refused");
    assert!(matches!(error, StoreError::InvalidState { status: TaskStatus::Completed, .. }), "{error}");
}

/// Behaviour: deleting keeps finished history and cancels queued runs; a second delete
/// finds nothing.
pub async fn deleting_a_task_keeps_its_history_and_cancels_its_queued_runs(store: Arc<dyn Store>) {
    let task = create(&store, new_task("doomed", "ok", "manual")).await;
    let queued = store.request_run(task.id.clone(), at(START)).await.expect("run");
    assert_eq!(queued.execution.status, ExecutionStatus::Queued);
    assert!(store.delete_task(task.id.clone(), at(START)).await.expect("delete"));
    assert!(!store.delete_task(task.id.clone(), at(START)).await.expect("again"));
    let history = executions(&store, &task).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, ExecutionStatus::Cancelled);
    assert_eq!(history[0].error.as_deref(), Some("the task was deleted"));
}

/// Behaviour: every audited change answers what it changed and writes one row naming who
/// asked, what, the task and the outcome (a run also its execution).
pub async fn audited_changes_record_who_what_and_the_outcome(store: Arc<dyn Store>) {
    let created = new_task("audited", "ok", "manual");
    let ChangeOutcome::Task(task) =
        store.change_audited(TaskChange::Create(created), note("task.create"), at(START)).await.expect("create")
    else {
        panic!("a create answers the task");
    };
    let patch = TaskPatch { timeout: Some(Duration::from_secs(9)), ..TaskPatch::default() };
    store
        .change_audited(TaskChange::Update(task.id.clone(), patch), note("task.update"), at(START))
        .await
        .expect("update");
    store.change_audited(TaskChange::Pause(task.id.clone()), note("task.pause"), at(START)).await.expect("pause");
    let ChangeOutcome::Run(requested) =
        store.change_audited(TaskChange::RequestRun(task.id.clone()), note("run"), at(START)).await.expect("run")
    else {
        panic!("a run request answers the run");
    };
    assert_eq!(requested.row.status, ExecutionStatus::Queued, "a paused task's manual run is queued at once");
    assert_eq!(requested.row.id, requested.execution.occurrence.execution_id, "the row as written comes back");
    let audit = store.audit(Some(task.id.clone()), 10).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["run", "task.pause", "task.update", "task.create"], "newest first");
    assert!(audit.iter().all(|e| e.actor == "cli" && e.task_id.as_ref() == Some(&task.id)));
    assert!(audit.iter().all(|e| e.details["by"] == "test" && e.at == at(START)));
    let outcomes: Vec<&str> = audit.iter().map(|e| e.details["outcome"].as_str().unwrap_or("")).collect();
    assert_eq!(outcomes, ["queued", "paused", "updated", "created"]);
    assert_eq!(audit[0].details["execution_id"], requested.row.id.0);
    let ChangeOutcome::Deleted(Some(_)) = store
        .change_audited(TaskChange::Delete(task.id.clone()), note("task.delete"), at(START))
        .await
        .expect("delete")
    else {
        panic!("a delete answers the deleted task");
    };
    let ChangeOutcome::Deleted(None) =
        store.change_audited(TaskChange::Delete(task.id.clone()), note("task.delete"), at(START)).await.expect("again")
    else {
        panic!("a second delete finds nothing");
    };
    let audit = store.audit(Some(task.id.clone()), 10).await.expect("audit");
    assert_eq!(audit.len(), 5, "the second delete is not audited");
    assert_eq!(audit[0].details["outcome"], "deleted");
}
