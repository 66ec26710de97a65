//! The SQLite store: migrations, CRUD, history, stats, audit, index use, uniqueness.

use std::sync::Arc;

use super::{Harness, at};
use serde_json::json;

use crate::store::{
    AuditNote, ChangeOutcome, ClaimRequest, HistoryQuery, SqliteStore, Store, StoreError, TaskChange, TaskFilter,
};
use crate::task::{ExecutionStatus, LogLevel, LogLine, TaskKey, TaskPatch, TaskStatus};

fn claim(now: &str) -> ClaimRequest {
    ClaimRequest {
        now: at(now),
        limit: 100,
        batch: 512,
        node_id: "test".to_owned(),
        misfire_grace: std::time::Duration::from_secs(60),
        run_all_limit: 100,
        horizon: std::time::Duration::ZERO,
        settled: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn migrations_set_the_user_version_and_reopening_does_not_rerun_them() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.create("kept", "ok", "1h").await;
    let version: i64 = harness
        .sqlite
        .with_reader(|conn| Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?))
        .await
        .expect("version");
    assert_eq!(version, 2);
    let reopened = SqliteStore::open(&harness.path()).expect("reopen");
    let tasks = reopened.list_tasks(TaskFilter::default()).await.expect("list");
    assert_eq!(tasks.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_database_from_a_newer_scheduler_is_refused() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.sqlite.with_writer(|conn| Ok(conn.pragma_update(None, "user_version", 99)?)).await.expect("bump");
    let error = SqliteStore::open(&harness.path()).expect_err("refused");
    assert!(matches!(&error, StoreError::Migration(message) if message.contains("schema version 99")), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_is_refused_in_its_tenant_but_free_in_another() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.create("backup", "ok", "1h").await;
    let duplicate = harness.new_task("backup", "ok", "2h");
    let error = harness.store.create_task(duplicate, harness.now()).await.expect_err("taken");
    assert_eq!(error.to_string(), "a task named 'backup' already exists in tenant 'default'");
    let mut other = harness.new_task("backup", "ok", "2h");
    other.tenant = "acme".to_owned();
    harness.store.create_task(other, harness.now()).await.expect("other tenant");
}

#[tokio::test(start_paused = true)]
async fn a_task_is_found_by_id_and_by_name_and_keeps_its_fields() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let created = harness
        .create_with("report", "report:send", "*/15 * * * *", |task| {
            task.data = serde_json::json!({"to": "ops"});
            task.retries = 0;
        })
        .await;
    let by_id = harness.reload(&created).await;
    let by_name = harness
        .store
        .get_task(TaskKey::Name { tenant: "default".to_owned(), name: "report".to_owned() })
        .await
        .expect("get")
        .expect("found");
    assert_eq!(by_id.id, by_name.id);
    assert_eq!(by_id.data, serde_json::json!({"to": "ops"}));
    assert_eq!(by_id.schedule.expression(), "*/15 * * * *");
    assert_eq!(by_id.retries, 0);
    assert_eq!(by_id.next_run_at, Some(at("2026-01-01T00:15:00Z")));
    let missing = harness
        .store
        .get_task(TaskKey::Name { tenant: "default".to_owned(), name: "nope".to_owned() })
        .await
        .expect("get");
    assert!(missing.is_none());
}

#[tokio::test(start_paused = true)]
async fn list_filters_by_status_and_pause_all_resume_all_return_the_tasks_they_changed() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let a = harness.create("a", "ok", "1h").await;
    harness.create("b", "ok", "1h").await;
    harness.store.pause_task(a.id.clone(), harness.now()).await.expect("pause");
    let paused = harness
        .store
        .list_tasks(TaskFilter { status: Some(TaskStatus::Paused), ..TaskFilter::default() })
        .await
        .expect("list");
    assert_eq!(paused.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(paused[0].next_run_at, None);
    let note = || AuditNote { actor: "cli".to_owned(), action: "task.pause".to_owned(), details: json!({}) };
    let ChangeOutcome::Switched(paused) =
        harness.store.change_audited(TaskChange::PauseAll(None), note(), harness.now()).await.expect("all")
    else {
        panic!("a pause answers the tasks it switched");
    };
    assert_eq!(paused.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"], "a was paused already");
    assert!(paused.iter().all(|t| t.status == TaskStatus::Paused && t.next_run_at.is_none()));
    let ChangeOutcome::Switched(resumed) =
        harness.store.change_audited(TaskChange::ResumeAll(None), note(), harness.now()).await.expect("all")
    else {
        panic!("a resume answers the tasks it switched");
    };
    assert_eq!(resumed.len(), 2);
    assert!(resumed.iter().all(|t| t.status == TaskStatus::Active));
    let active = harness
        .store
        .list_tasks(TaskFilter { status: Some(TaskStatus::Active), ..TaskFilter::default() })
        .await
        .expect("list");
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|t| t.next_run_at == Some(at("2026-01-01T01:00:00Z"))));
}

#[tokio::test(start_paused = true)]
async fn updating_the_schedule_recomputes_the_next_run_and_other_fields_keep_it() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("t", "ok", "1h").await;
    let renamed = harness
        .store
        .update_task(
            task.id.clone(),
            TaskPatch { name: Some("renamed".to_owned()), ..TaskPatch::default() },
            at("2026-01-01T00:10:00Z"),
        )
        .await
        .expect("update");
    assert_eq!(renamed.next_run_at, Some(at("2026-01-01T01:00:00Z")));
    let schedule =
        crate::task::TaskSchedule::parse("0 3 * * *", None, None, at("2026-01-01T00:10:00Z")).expect("valid");
    let rescheduled = harness
        .store
        .update_task(
            task.id.clone(),
            TaskPatch { schedule: Some(schedule), ..TaskPatch::default() },
            at("2026-01-01T00:10:00Z"),
        )
        .await
        .expect("update");
    assert_eq!(rescheduled.next_run_at, Some(at("2026-01-01T03:00:00Z")));
    assert_eq!(harness.reload(&task).await.name, "renamed");
}

#[tokio::test(start_paused = true)]
async fn resume_refuses_a_completed_once_task() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("once", "ok", "now").await;
    let outcome = harness.store.claim_due(claim("2026-01-01T00:00:00Z")).await.expect("claim");
    let claimed = &outcome.claimed[0];
    harness
        .store
        .finish_execution(crate::store::Finish {
            execution_id: claimed.execution_id,
            status: ExecutionStatus::Completed,
            finished_at: at("2026-01-01T00:00:01Z"),
            duration: std::time::Duration::from_secs(1),
            output: Some(serde_json::json!(1)),
            error: None,
            retryable: true,
            retry_delay_max: std::time::Duration::from_secs(60),
            retry_jitter: false,
        })
        .await
        .expect("finish");
    assert_eq!(harness.reload(&task).await.status, TaskStatus::Completed);
    let error = harness.store.resume_task(task.id.clone(), harness.now()).await.expect_err("refused");
    assert!(matches!(error, StoreError::InvalidState { status: TaskStatus::Completed, .. }));
}

#[tokio::test(start_paused = true)]
async fn deleting_a_task_keeps_its_history_and_cancels_its_queued_runs() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("doomed", "ok", "manual").await;
    let queued = harness.store.request_run(task.id.clone(), harness.now()).await.expect("run");
    assert_eq!(queued.execution.status, ExecutionStatus::Queued);
    assert!(harness.store.delete_task(task.id.clone(), harness.now()).await.expect("delete"));
    assert!(!harness.store.delete_task(task.id.clone(), harness.now()).await.expect("again"));
    let history = harness.executions(&task).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, ExecutionStatus::Cancelled);
    assert_eq!(history[0].error.as_deref(), Some("the task was deleted"));
}

#[tokio::test(start_paused = true)]
async fn history_filters_by_task_status_since_and_limit() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let a = harness.create("a", "ok", "1m").await;
    let b = harness.create("b", "ok", "1m").await;
    for minute in 1..=5 {
        harness.store.claim_due(claim(&format!("2026-01-01T00:0{minute}:00Z"))).await.expect("claim");
    }
    // Nothing finishes: the first run of each task stays running, and with the default
    // overlap policy the four later occurrences are recorded as skipped.
    let all = harness.store.history(HistoryQuery::default()).await.expect("history");
    assert_eq!(all.len(), 10);
    let of_a = harness
        .store
        .history(HistoryQuery { task_id: Some(a.id.clone()), ..HistoryQuery::default() })
        .await
        .expect("history");
    assert!(of_a.iter().all(|e| e.task_id == a.id) && of_a.len() == 5);
    let running = harness
        .store
        .history(HistoryQuery {
            task_id: Some(b.id.clone()),
            status: Some(ExecutionStatus::Skipped),
            since: Some(at("2026-01-01T00:04:00Z")),
            limit: Some(1),
        })
        .await
        .expect("history");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].scheduled_for, at("2026-01-01T00:05:00Z"), "newest first");
    assert_eq!(of_a.iter().filter(|e| e.status == ExecutionStatus::Skipped).count(), 4);
}

#[tokio::test(start_paused = true)]
async fn stats_report_counters_success_rate_average_and_p95() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness
        .create_with("measured", "ok", "1m", |task| {
            task.retries = 0;
            task.overlap = crate::task::OverlapPolicy::Allow;
        })
        .await;
    for minute in 1..=20u64 {
        let now = format!("2026-01-01T00:{minute:02}:00Z");
        let outcome = harness.store.claim_due(claim(&now)).await.expect("claim");
        let status = if minute % 4 == 0 { ExecutionStatus::Failed } else { ExecutionStatus::Completed };
        harness
            .store
            .finish_execution(crate::store::Finish {
                execution_id: outcome.claimed[0].execution_id,
                status,
                finished_at: at(&now),
                duration: std::time::Duration::from_millis(minute * 10),
                output: None,
                error: (status == ExecutionStatus::Failed).then(|| "x".to_owned()),
                retryable: true,
                retry_delay_max: std::time::Duration::from_secs(60),
                retry_jitter: false,
            })
            .await
            .expect("finish");
    }
    let stats = harness.store.stats(Some(task.id.clone())).await.expect("stats");
    assert_eq!(stats.counters.runs, 20);
    assert_eq!(stats.counters.failures, 5);
    assert_eq!(stats.counters.successes, 15);
    assert_eq!(stats.counters.consecutive_failures, 1);
    assert_eq!(stats.success_rate, Some(0.75));
    assert_eq!(stats.avg_duration_ms, Some(105.0));
    assert_eq!(stats.p95_duration_ms, Some(190));
    assert_eq!(stats.last_status, Some(ExecutionStatus::Failed));
    let all = harness.store.stats(None).await.expect("stats");
    assert_eq!(all.counters.runs, 20);
}

#[tokio::test(start_paused = true)]
async fn audited_changes_record_who_what_and_the_outcome_and_log_lines_are_read_back() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let note =
        |action: &str| AuditNote { actor: "cli".to_owned(), action: action.to_owned(), details: json!({"by": "test"}) };
    let created = harness.new_task("audited", "ok", "manual");
    let ChangeOutcome::Task(task) = harness
        .store
        .change_audited(TaskChange::Create(created), note("task.create"), harness.now())
        .await
        .expect("create")
    else {
        panic!("a create answers the task");
    };
    harness
        .store
        .change_audited(TaskChange::Pause(task.id.clone()), note("task.pause"), harness.now())
        .await
        .expect("pause");
    let ChangeOutcome::Run(requested) = harness
        .store
        .change_audited(TaskChange::RequestRun(task.id.clone()), note("run"), harness.now())
        .await
        .expect("run")
    else {
        panic!("a run request answers the run");
    };
    assert_eq!(requested.row.status, ExecutionStatus::Queued, "the row as written comes back");
    assert_eq!(requested.row.id, requested.execution.execution_id);
    let audit = harness.store.audit(Some(task.id.clone()), 10).await.expect("audit");
    assert_eq!(audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["run", "task.pause", "task.create"]);
    assert!(
        audit.iter().all(|e| e.actor == "cli" && e.task_id.as_ref() == Some(&task.id) && e.details["by"] == "test")
    );
    let outcomes: Vec<&str> = audit.iter().map(|e| e.details["outcome"].as_str().unwrap_or("")).collect();
    assert_eq!(outcomes, ["queued", "paused", "created"]);
    assert_eq!(audit[0].details["execution_id"], requested.row.id.0);
    let run = harness.store.request_run(task.id.clone(), harness.now()).await.expect("run");
    let line = LogLine {
        execution_id: run.execution.execution_id,
        at: harness.now(),
        level: LogLevel::Warn,
        message: "disk almost full".to_owned(),
    };
    harness.store.append_log(line.clone()).await.expect("log");
    assert_eq!(harness.store.logs(run.execution.execution_id).await.expect("logs"), [line]);
}

#[tokio::test(start_paused = true)]
async fn the_due_task_query_is_served_by_the_partial_index() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT {} {}",
        crate::store::sqlite_internals::TASK_COLUMNS,
        crate::store::sqlite_internals::DUE_TASKS_SQL
    );
    let plan: Vec<String> = harness
        .sqlite
        .with_reader(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let details = stmt
                .query_map(rusqlite::params![0_i64, 10_i64], |row| row.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(details)
        })
        .await
        .expect("plan");
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(plan[0].starts_with("SEARCH scheduled_tasks USING INDEX ix_tasks_due (next_run_at"), "{plan:?}");
}

#[tokio::test(start_paused = true)]
async fn the_unique_index_makes_a_second_execution_of_an_occurrence_impossible() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("once", "ok", "2026-01-01T00:00:00Z").await;
    harness.store.claim_due(claim("2026-01-01T00:00:00Z")).await.expect("claim");
    let id = task.id.to_string();
    let second = harness
        .sqlite
        .with_writer(move |conn| {
            Ok(conn.execute(
                "INSERT INTO task_executions (task_id, task_name, origin, trigger, scheduled_for, \
                 attempt, status, created_at) VALUES (?1, 'once', 'schedule', 'schedule', ?2, 1, \
                 'running', 0)",
                rusqlite::params![id, at("2026-01-01T00:00:00Z").as_millisecond()],
            )?)
        })
        .await
        .expect_err("refused");
    assert!(second.to_string().contains("UNIQUE constraint failed"), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_committed_in_groups_and_all_answered() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let store: Arc<SqliteStore> = harness.sqlite.clone();
    let mut joins = Vec::new();
    for n in 0..2_000 {
        let task = harness.new_task(&format!("t{n}"), "ok", "1h");
        let store = store.clone();
        let now = harness.now();
        joins.push(tokio::spawn(async move { store.create_task(task, now).await }));
    }
    for join in joins {
        join.await.expect("joined").expect("created");
    }
    let tasks = store.list_tasks(TaskFilter::default()).await.expect("list");
    assert_eq!(tasks.len(), 2_000);
}

#[tokio::test(start_paused = true)]
async fn occurrences_that_came_due_while_claims_failed_run_once_and_one_row_records_the_rest() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("every-second", "ok", "1s").await;
    // Claims failed (a full disk) from 00:00:01 until 00:00:05.5.
    let outcome = harness.store.claim_due(claim("2026-01-01T00:00:05.500Z")).await.expect("claim");
    assert_eq!(outcome.claimed.len(), 1);
    assert_eq!(outcome.claimed[0].scheduled_for, at("2026-01-01T00:00:05Z"), "the latest runs");
    let executions = harness.executions(&task).await;
    assert_eq!(executions.len(), 2, "{executions:?}");
    assert_eq!(executions[0].status, ExecutionStatus::Skipped);
    assert_eq!(
        executions[0].error.as_deref(),
        Some(
            "4 occurrence(s) from 2026-01-01T00:00:01Z to 2026-01-01T00:00:04Z came due before they could be \
             claimed (the store could not write, or the engine was held up); the latest, 2026-01-01T00:00:05Z, \
             runs instead"
        )
    );
    assert_eq!(harness.reload(&task).await.next_run_at, Some(at("2026-01-01T00:00:06Z")));
}
