//! SQLite-only store checks: migrations, index use, the unique occurrence index as SQL sees
//! it, and group commit. Behaviours of the `Store` trait are in `store::conformance`.

use std::sync::Arc;

use super::{Harness, at};
use crate::store::{ClaimRequest, SqliteStore, Store, StoreError, TaskFilter};

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
    assert_eq!(version, 5);
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
async fn the_queued_work_queries_are_served_by_the_index_of_unclaimed_rows_only() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let queries = [
        format!("EXPLAIN QUERY PLAN SELECT id {}", crate::store::sqlite_internals::QUEUED_DUE_SQL),
        format!("EXPLAIN QUERY PLAN {}", crate::store::sqlite_internals::NEXT_QUEUED_SQL),
    ];
    for sql in queries {
        let shown = sql.clone();
        let (plan, indexed): (Vec<String>, String) = harness
            .sqlite
            .with_reader(move |conn| {
                let count = sql.matches('?').count();
                let mut stmt = conn.prepare(&sql)?;
                let values = [0_i64, 10_i64];
                let details = stmt
                    .query_map(rusqlite::params_from_iter(&values[..count]), |row| row.get::<_, String>(3))?
                    .collect::<Result<Vec<_>, _>>()?;
                let index: String =
                    conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'ix_exec_queued'", [], |row| {
                        row.get(0)
                    })?;
                Ok((details, index))
            })
            .await
            .expect("plan");
        assert!(plan.iter().any(|step| step.contains("USING INDEX ix_exec_queued")), "{shown}: {plan:?}");
        assert!(!plan.iter().any(|step| step.starts_with("SCAN task_executions")), "{shown}: {plan:?}");
        // Claims made ahead (`node_id` set) are not in it: writing and ending them costs no
        // entry there, and the next-due query does not step over them.
        assert!(indexed.contains("node_id IS NULL"), "{indexed}");
    }
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

#[tokio::test]
async fn a_version_2_database_keeps_its_log_lines_as_system_lines_after_migration_3() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("v2.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(include_str!("../store/migrations/0001_init.sql")).expect("v1");
        conn.execute_batch(include_str!("../store/migrations/0002_clock_epochs.sql")).expect("v2");
        conn.execute_batch(
            "INSERT INTO task_logs (execution_id, logged_at, level, message) VALUES (7, 1000, 'warn', 'old line');
             PRAGMA user_version = 2;",
        )
        .expect("a v2 log line");
    }
    let store = SqliteStore::open(&path).expect("migrated");
    let lines = store.logs(crate::store::LogQuery::all(crate::task::ExecutionId(7), 10)).await.expect("logs");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].stream, crate::task::LogStream::System);
    assert_eq!(lines[0].line, "old line");
}

#[tokio::test(start_paused = true)]
async fn a_log_stored_in_chunks_reads_back_line_for_line_across_chunk_boundaries() {
    use crate::store::{LogBatch, LogQuery};
    use crate::task::LogStream;
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let task = harness.create("chatty", "ok", "manual").await;
    let execution = harness.sqlite.request_run(task.id.clone(), harness.now()).await.expect("run").row.id;
    // Two runs of stdout longer than a chunk, split by stderr lines, and lines that hold a
    // newline or nothing at all.
    let mut sent: Vec<(LogStream, String)> = (0..5_000).map(|i| (LogStream::Stdout, format!("out {i}"))).collect();
    sent.push((LogStream::Stderr, "err one\nstill err one".to_owned()));
    sent.push((LogStream::Stderr, String::new()));
    sent.extend((0..4_200).map(|i| (LogStream::Stdout, format!("later {i} é"))));
    sent.push((LogStream::System, "\n".to_owned()));
    let batch = LogBatch { execution_id: execution, at: harness.now(), lines: sent.clone() };
    assert_eq!(harness.sqlite.append_logs(batch).await.expect("appended"), sent.len() as u64);
    let chunks: i64 = harness
        .sqlite
        .with_reader(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM task_logs", [], |row| row.get(0))?))
        .await
        .expect("count");
    assert_eq!(chunks, 6, "stdout 4096 + 904, stderr 2, stdout 4096 + 104, system 1");

    // Read in pages of 1,000 by cursor: every line once, in order, ids increasing.
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let query = LogQuery { after, limit: 1_000, ..LogQuery::all(execution, 0) };
        let page = harness.sqlite.logs(query).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        read.extend(page);
    }
    assert!(read.windows(2).all(|pair| pair[0].id < pair[1].id), "ids increase");
    let texts: Vec<(LogStream, String)> = read.iter().map(|line| (line.stream, line.line.clone())).collect();
    assert_eq!(texts, sent);

    let tail = LogQuery { tail: Some(4_203), limit: 10_000, ..LogQuery::all(execution, 0) };
    let tailed = harness.sqlite.logs(tail).await.expect("tail");
    assert_eq!(tailed.len(), 4_203);
    assert_eq!(tailed[0].line, "err one\nstill err one", "the last 4,203 lines start at the stderr run");
    let stderr = LogQuery { stream: Some(LogStream::Stderr), limit: 10, ..LogQuery::all(execution, 0) };
    let stderr = harness.sqlite.logs(stderr).await.expect("stderr");
    assert_eq!(stderr.iter().map(|line| line.line.as_str()).collect::<Vec<_>>(), ["err one\nstill err one", ""]);
    let mid = LogQuery { after: Some(read[4_999].id), limit: 2, ..LogQuery::all(execution, 0) };
    assert_eq!(harness.sqlite.logs(mid).await.expect("mid")[0].line, "err one\nstill err one");
}

#[tokio::test(start_paused = true)]
async fn a_claim_with_one_free_slot_looks_past_a_busy_task_to_an_idle_one_it_may_claim_ahead() {
    use crate::task::TaskSchedule;
    let harness = Harness::new("2026-01-01T00:00:00Z");
    let busy = harness.create("busy", "ok", "1s").await;
    let idle = harness
        .create_with("idle", "ok", "1s", |task| {
            task.schedule = TaskSchedule::parse("1s", None, None, at("2026-01-01T00:00:01.100Z")).expect("1s");
        })
        .await;
    assert_eq!(busy.next_run_at, Some(at("2026-01-01T00:00:01Z")));
    assert_eq!(idle.next_run_at, Some(at("2026-01-01T00:00:02.100Z")));
    // `busy` starts at 00:00:01 and is still running at 00:00:01.700.
    let first =
        harness.sqlite.claim_due(ClaimRequest { limit: 1, ..claim("2026-01-01T00:00:01Z") }).await.expect("claim");
    assert_eq!(first.claimed.len(), 1);
    // With a 500 ms horizon both are inside it; `busy` (next 00:00:02) may not be claimed
    // ahead while it runs, `idle` (00:00:02.100) may. One free slot: the claim's first page
    // holds only `busy`, and the claim must look past it.
    let request =
        ClaimRequest { limit: 1, horizon: std::time::Duration::from_millis(500), ..claim("2026-01-01T00:00:01.700Z") };
    let second = harness.sqlite.claim_due(request).await.expect("claim");
    let names: Vec<&str> = second.claimed.iter().map(|claim| claim.occurrence.name.as_str()).collect();
    assert_eq!(names, ["idle"]);
}
