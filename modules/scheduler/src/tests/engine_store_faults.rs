//! Store faults under the engine (issue 8): an outcome that cannot be recorded (a full
//! disk) is kept and recorded later, later occurrences still run, nothing runs twice; and a
//! full database reports "disk full".

use std::collections::HashSet;

use super::{Harness, pass, secs};
use crate::store::StoreError;
use crate::task::ExecutionStatus;

#[tokio::test(start_paused = true)]
async fn an_outcome_that_failed_to_record_is_retried_not_left_running_and_later_occurrences_still_run() {
    let mut harness = Harness::new("2026-01-01T00:00:00Z");
    harness.config.tick_interval = 1_000;
    let task = harness.create("every-second", "ok", "1s").await;
    // About ten seconds of failed recordings, as on a full disk.
    harness.faults.fail_finishes(25);
    let engine = harness.start().await;
    pass(secs(20)).await;
    assert_eq!(harness.faults.failures_left(), 0, "the injected failures were all hit");
    engine.stop().await;

    let executions = harness.executions(&task).await;
    let statuses: Vec<ExecutionStatus> = executions.iter().map(|e| e.status).collect();
    assert!(statuses.iter().all(|s| *s == ExecutionStatus::Completed), "every occurrence completed: {statuses:?}");
    assert_eq!(executions.len(), 20, "one execution per second, none skipped: {statuses:?}");
    let occurrences: HashSet<_> = executions.iter().map(|e| (e.scheduled_for, e.attempt)).collect();
    assert_eq!(occurrences.len(), executions.len(), "no occurrence recorded twice");
    assert_eq!(harness.bus.calls_of("ok").len(), executions.len(), "nothing ran twice");
}

#[tokio::test(start_paused = true)]
async fn a_write_to_a_full_database_fails_with_disk_full_not_a_missing_transaction() {
    let harness = Harness::new("2026-01-01T00:00:00Z");
    harness.create("first", "ok", "1h").await;
    // A page limit at the current size makes SQLite answer SQLITE_FULL, as a full disk does.
    harness
        .sqlite
        .with_writer(|conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .expect("limit set");
    let mut error = None;
    for n in 0..200 {
        let mut task = harness.new_task(&format!("filler-{n}"), "ok", "1h");
        task.data = serde_json::json!({ "padding": "x".repeat(2_000) });
        if let Err(failed) = harness.store.create_task(task, harness.now()).await {
            error = Some(failed);
            break;
        }
    }
    let error = error.expect("the database filled up");
    assert!(matches!(error, StoreError::DiskFull(_)), "{error:?}");
    assert!(error.to_string().starts_with("disk full"), "{error}");
}
