//! `scheduler:cancel --execution` and the delete command's cancels, through the real binary
//! and libraries: a running `system:sleep` is recorded `cancelled` and the sleep sees its
//! cancellation (it logs "Sleep cancelled."), a queued retry never runs, an ended or unknown
//! execution is refused, and deleting a task cancels its queued and running executions.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};
use serde_json::Value;

fn started_host() -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into()],
        ..HostSpec::default()
    });
    host.start();
    host
}

fn create(host: &TestHost, args: &[&str]) -> String {
    let mut all = vec!["scheduler:create"];
    all.extend_from_slice(args);
    let task = host.json(&all);
    task["id"].as_str().unwrap().to_owned()
}

/// The task's executions (newest first), once `ready` holds for them.
fn history_until(host: &TestHost, task: &str, what: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let history = host.json(&["scheduler:history", "--task", task]);
        let rows = history.as_array().unwrap().clone();
        if ready(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "waited 10 s for {what}: {rows:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|row| row["status"].as_str().unwrap()).collect()
}

fn wait_for_log(host: &TestHost, text: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.log().matches(text).count() < times {
        assert!(Instant::now() < deadline, "the log never said {text:?} {times} times:\n{}", host.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn audit_count(host: &TestHost, action: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT count(*) FROM audit_log WHERE action = ?1", [action], |row| row.get(0)).unwrap()
}

#[test]
fn cancelling_a_running_sleep_records_it_cancelled_without_retry_and_the_sleep_sees_it() {
    let host = started_host();
    let task = create(
        &host,
        &["--name", "nap", "--command", "system:sleep", "--schedule", "manual", "--data", r#"{"ms":60000}"#],
    );
    let run = host.json(&["scheduler:run", "--id", "nap"]);
    let id = run["execution_id"].as_i64().unwrap().to_string();
    history_until(&host, &task, "the sleep to run", |rows| statuses(rows) == ["running"]);
    let out = host.cli(&["scheduler:cancel", "--execution", &id, "--format", "json"]);
    out.assert_code(0);
    let answer = out.json();
    assert_eq!(answer["was"], "running");
    assert_eq!(answer["cancelled"]["status"], "cancelled");
    assert_eq!(answer["cancelled"]["error"], "cancelled on request");
    wait_for_log(&host, "Sleep cancelled.", 1);
    // The task has retries (3 by default, 5 s apart): a retry would be a `queued` row written
    // with the outcome, so the history at once shows that none was scheduled.
    let rows = history_until(&host, &task, "the cancelled row", |rows| !rows.is_empty());
    assert_eq!(statuses(&rows), ["cancelled"]);
    let rows = host.json(&["scheduler:history", "--status", "cancelled"]);
    assert_eq!(rows[0]["id"].as_i64().unwrap().to_string(), id);
    assert_eq!(audit_count(&host, "execution.cancel"), 1);

    let again = host.cli(&["scheduler:cancel", "--execution", &id, "--format", "json"]);
    assert_ne!(again.code, 0);
    assert_eq!(again.json()["error"]["code"], "conflict");
    assert!(again.stderr.contains(&format!("execution {id} already cancelled")), "{}", again.stderr);
    let unknown = host.cli(&["scheduler:cancel", "--execution", "987654", "--format", "json"]);
    assert_ne!(unknown.code, 0);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
    assert_eq!(audit_count(&host, "execution.cancel"), 1, "refusals are not audited");
}

#[test]
fn cancelling_a_queued_retry_means_it_never_runs() {
    let host = started_host();
    let args = ["--name", "flaky", "--command", "system:fail", "--schedule", "manual", "--retries", "1"];
    let task = create(&host, &[&args[..], &["--retry-delay-ms", "3000"]].concat());
    host.json(&["scheduler:run", "--id", "flaky"]);
    // The first attempt fails at once; its retry waits 3 s.
    let rows = history_until(&host, &task, "the queued retry", |rows| statuses(rows) == ["queued", "failed"]);
    assert_eq!(rows[0]["trigger"], "retry");
    let retry = rows[0]["id"].as_i64().unwrap().to_string();
    let answer = host.json(&["scheduler:cancel", "--execution", &retry]);
    assert_eq!((answer["was"].as_str(), answer["cancelled"]["status"].as_str()), (Some("queued"), Some("cancelled")));
    // Past the retry's instant: it would have run by now.
    std::thread::sleep(Duration::from_millis(3_500));
    let rows = host.json(&["scheduler:history", "--task", &task]);
    assert_eq!(statuses(rows.as_array().unwrap()), ["cancelled", "failed"], "the retry never ran");
}

#[test]
fn deleting_a_task_cancels_its_queued_and_running_executions() {
    let host = started_host();
    let task = create(
        &host,
        &[
            "--name",
            "naps",
            "--command",
            "system:sleep",
            "--schedule",
            "manual",
            "--overlap",
            "queue",
            "--data",
            r#"{"ms":60000}"#,
        ],
    );
    host.json(&["scheduler:run", "--id", "naps"]);
    history_until(&host, &task, "the first sleep to run", |rows| statuses(rows) == ["running"]);
    host.json(&["scheduler:run", "--id", "naps"]);
    history_until(&host, &task, "the second run to queue", |rows| statuses(rows) == ["queued", "running"]);
    host.cli(&["scheduler:delete", "--id", "naps", "--confirm"]).assert_code(0);
    let rows = history_until(&host, &task, "both runs cancelled", |rows| statuses(rows) == ["cancelled", "cancelled"]);
    assert_eq!(rows[0]["error"], "the task was deleted");
    wait_for_log(&host, "Sleep cancelled.", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.log().matches("Sleep cancelled.").count(), 1, "the queued run never started");
}
