//! A damaged scheduler database at start (issue 8, item 5): the host starts, the scheduler
//! module is reported skipped with a message naming the file and what to do, its commands do
//! not serve, and the file is left byte for byte as it was.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::path::Path;

use blackbox::{HostSpec, TestHost};

const MODULES: [&str; 2] = ["modules/system", "modules/scheduler"];

fn host() -> TestHost {
    TestHost::new(HostSpec { modules: MODULES.iter().map(|m| (*m).to_owned()).collect(), ..HostSpec::default() })
}

fn skipped(host: &TestHost) -> Vec<String> {
    let status = host.json(&["status"]);
    status["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

/// A data dir whose scheduler database holds 30 tasks, written by a real host that then
/// stopped; its WAL is checkpointed into the file, so the file alone is the database.
fn host_with_thirty_tasks() -> TestHost {
    let mut host = host();
    host.start();
    for n in 0..30 {
        let name = format!("task-{n:02}");
        host.cli(&["scheduler:create", "--name", &name, "--command", "system:health", "--schedule", "1h"])
            .assert_code(0);
    }
    host.stop().assert_code(0);
    let path = host.data_dir().join("scheduler.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tasks: i64 = conn.query_row("SELECT COUNT(*) FROM scheduled_tasks", [], |row| row.get(0)).unwrap();
    assert_eq!(tasks, 30);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(conn);
    assert!(!host.data_dir().join("scheduler.db-wal").exists(), "the WAL was folded into the file");
    host
}

fn truncate_by(path: &Path, bytes: u64) {
    let len = std::fs::metadata(path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len - bytes).unwrap();
}

/// Starts the host on the damaged file and checks the refusal; returns the skip message.
fn refused_at_start(mut host: TestHost, says: &str) -> String {
    let path = host.data_dir().join("scheduler.db");
    let before = std::fs::read(&path).unwrap();
    host.start();
    let skipped = skipped(&host);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let message = &skipped[0];
    assert!(message.starts_with("module scheduler: init failed: "), "{message}");
    assert!(message.contains(&path.display().to_string()), "names the file: {message}");
    assert!(message.contains(says), "{message}");
    assert!(message.contains("restore") && message.contains("from a backup"), "says what to do: {message}");
    assert!(host.log().contains(says), "the log says it too");
    // The scheduler does not serve on it; the rest of the host does.
    let list = host.cli(&["scheduler:list"]);
    assert_ne!(list.code, 0, "scheduler:list must not serve: {list:?}");
    assert!(list.stderr.contains("module scheduler is failed, not serving scheduler:list"), "{list:?}");
    host.json(&["system:health"]);
    host.stop().assert_code(0);
    assert!(std::fs::read(&path).unwrap() == before, "the refused file is untouched (same size and bytes)");
    message.clone()
}

#[test]
fn a_database_truncated_by_1000_bytes_is_refused_at_start_and_left_untouched() {
    let host = host_with_thirty_tasks();
    truncate_by(&host.data_dir().join("scheduler.db"), 1_000);
    refused_at_start(host, "is damaged (SQLite quick_check");
}

#[test]
fn an_emptied_database_is_refused_at_start_rather_than_served_as_a_fresh_store() {
    let host = host_with_thirty_tasks();
    std::fs::write(host.data_dir().join("scheduler.db"), b"").unwrap();
    let message = refused_at_start(host, "is empty (0 bytes)");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn a_database_file_that_is_not_sqlite_is_refused_at_start() {
    let host = host();
    std::fs::write(host.data_dir().join("scheduler.db"), "not a database\n".repeat(1_000)).unwrap();
    refused_at_start(host, "is not a SQLite database");
}
