//! Regressions of issue 8 through the real binary and libraries: a full disk (a small tmpfs
//! as the data dir) neither wedges a task nor creates one without its audit row; parallel
//! pauses report one change; `run --wait` on a paused task answers; secrets in task data
//! and in a failed command's message reach neither the audit log nor the host log.
//!
//! The full-disk tests mount a tmpfs, so they need root (CI runs them as root); elsewhere
//! they print why they are skipped and pass.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};
use serde_json::Value;

fn scheduler_host() -> TestHost {
    TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into()],
        ..HostSpec::default()
    })
}

fn db(host: &TestHost) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn count(host: &TestHost, sql: &str, params: impl rusqlite::Params) -> i64 {
    db(host).query_row(sql, params, |row| row.get(0)).unwrap()
}

/// Every execution row, oldest first, for failure messages.
fn executions(host: &TestHost) -> Vec<String> {
    let conn = db(host);
    let mut stmt = conn
        .prepare(
            "SELECT id, task_name, scheduled_for, attempt, trigger, status, created_at, started_at, finished_at, \
             substr(error, 1, 80) FROM task_executions ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |row| {
        Ok(format!(
            "{} {} {} #{} {} {} created {} started {:?} finished {:?} {:?}",
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, i64>(6)?,
            row.get::<_, Option<i64>>(7)?,
            row.get::<_, Option<i64>>(8)?,
            row.get::<_, Option<String>>(9)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn now_ms() -> i64 {
    blackbox::wall_now().as_millisecond()
}

fn wait_for(what: &str, limit: Duration, mut probe: impl FnMut() -> bool) {
    let started = Instant::now();
    while !probe() {
        assert!(started.elapsed() < limit, "gave up waiting for {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tmpfs mounted on a directory, unmounted when dropped (after the host that uses it:
/// declare it first).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` on `path`, or says why it cannot (not root, no mount). The
    /// mount is 0700, as the host requires of a data dir (a tmpfs is 1777 by default).
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        let uid = Command::new("id").arg("-u").output().map_err(|error| format!("cannot run id: {error}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("mounting a tmpfs needs root".to_owned());
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { path: path.to_owned() })
    }

    /// Writes a file until the file system is full; returns its path.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // Whatever the last partial chunk left.
        while file.write_all(&[0u8; 512]).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A host on a tmpfs data dir of `size`, or `None` (with the reason printed) where a tmpfs
/// cannot be mounted.
fn host_on_tmpfs(size: &str) -> Option<(Tmpfs, TestHost)> {
    let host = scheduler_host();
    match Tmpfs::mount(&host.data_dir(), size) {
        Ok(tmpfs) => Some((tmpfs, host)),
        Err(reason) => {
            eprintln!("skipped: {reason}; this test needs a tmpfs data dir");
            None
        }
    }
}

#[test]
fn a_full_disk_does_not_wedge_a_task_and_firing_resumes_by_itself_when_space_returns() {
    let Some((tmpfs, mut host)) = host_on_tmpfs("6m") else {
        return;
    };
    host.start();
    // Each run stores a few KB of output, so the database keeps growing.
    let message = format!(r#"{{"message": "{}"}}"#, "x".repeat(3_000));
    for n in 0..3 {
        let name = format!("tick-{n}");
        let args = ["scheduler:create", "--name", &name, "--command", "system:echo", "--schedule", "1s"];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--data", &message]);
        host.cli(&args).assert_code(0);
    }
    wait_for("first runs", Duration::from_secs(10), || {
        count(&host, "SELECT count(*) FROM task_executions WHERE status = 'completed'", []) >= 3
    });

    let filler = tmpfs.fill();
    std::thread::sleep(Duration::from_secs(5));
    std::fs::remove_file(&filler).unwrap();
    let freed_at = now_ms();

    // Every task fires again, without a restart, within a few seconds.
    wait_for("every task to run again after space returned", Duration::from_secs(8), || {
        count(
            &host,
            "SELECT count(DISTINCT task_id) FROM task_executions WHERE status = 'completed' AND started_at > ?1",
            [freed_at],
        ) == 3
    });
    std::thread::sleep(Duration::from_secs(2));
    let settled_before = now_ms() - 1_500;
    let stuck = count(
        &host,
        "SELECT count(*) FROM task_executions WHERE status = 'running' AND started_at < ?1",
        [settled_before],
    );
    assert_eq!(stuck, 0, "executions left running once space returned");
    let doubled = count(
        &host,
        "SELECT count(*) FROM (SELECT 1 FROM task_executions WHERE origin = 'schedule' \
         GROUP BY task_id, scheduled_for, attempt HAVING count(*) > 1)",
        [],
    );
    assert_eq!(doubled, 0, "an occurrence was recorded twice");
    let overlap_skips = count(
        &host,
        "SELECT count(*) FROM task_executions WHERE status = 'skipped' AND error LIKE '%overlap policy%'",
        [],
    );
    assert!(
        overlap_skips <= 3,
        "{overlap_skips} occurrences skipped as overlapping a run that had ended (space freed at {freed_at}):\n{}",
        executions(&host).join("\n")
    );
    host.stop().assert_code(0);
    drop(host);
    drop(tmpfs);
}

#[test]
fn create_on_a_full_disk_fails_with_disk_full_and_leaves_no_task() {
    let Some((tmpfs, mut host)) = host_on_tmpfs("4m") else {
        return;
    };
    host.start();
    host.cli(&["scheduler:create", "--name", "before", "--command", "system:echo", "--schedule", "1h"]).assert_code(0);
    let filler = tmpfs.fill();
    // Until the WAL needs space the full disk cannot give (it reuses what it has first).
    let data = format!(r#"{{"blob": "{}"}}"#, "y".repeat(30_000));
    let mut refused = None;
    for n in 0..100 {
        let name = format!("filler-{n}");
        let args = ["scheduler:create", "--name", &name, "--command", "system:echo", "--schedule", "1h"];
        let mut args = args.to_vec();
        args.extend(["--data", &data]);
        let out = host.cli(&args);
        if out.code != 0 {
            refused = Some((name, out));
            break;
        }
    }
    std::fs::remove_file(&filler).unwrap();
    let (name, out) = refused.expect("a create failed on the full disk");
    assert!(out.stderr.contains("disk full"), "the error names the cause:\n{}", out.stderr);
    assert_eq!(count(&host, "SELECT count(*) FROM scheduled_tasks WHERE name = ?1", [&name]), 0, "{name} exists");
    let tasks = count(&host, "SELECT count(*) FROM scheduled_tasks", []);
    let audited = count(&host, "SELECT count(*) FROM audit_log WHERE action = 'task.create'", []);
    assert_eq!(tasks, audited, "every task has its audit row and no row lacks its task");
    host.stop().assert_code(0);
    drop(host);
    drop(tmpfs);
}

#[test]
fn ten_parallel_pauses_of_one_task_report_one_change_and_write_one_audit_row() {
    let mut host = scheduler_host();
    host.start();
    host.cli(&["scheduler:create", "--name", "p1", "--command", "system:echo", "--schedule", "1h"]).assert_code(0);
    for (round, verb) in ["scheduler:pause", "scheduler:resume", "scheduler:pause"].iter().enumerate() {
        let replies: Vec<Value> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..10).map(|_| scope.spawn(|| host.json(&[verb, "--id", "p1"]))).collect();
            threads.into_iter().map(|thread| thread.join().unwrap()).collect()
        });
        let changed: usize = replies.iter().map(|reply| reply["tasks"].as_array().unwrap().len()).sum();
        assert_eq!(changed, 1, "round {round} ({verb}): {replies:?}");
    }
    let pauses = count(&host, "SELECT count(*) FROM audit_log WHERE action = 'task.pause'", []);
    let resumes = count(&host, "SELECT count(*) FROM audit_log WHERE action = 'task.resume'", []);
    assert_eq!((pauses, resumes), (2, 1));
    let mismatched = count(
        &host,
        "SELECT count(*) FROM audit_log a JOIN scheduled_tasks t ON t.id = a.task_id \
         WHERE a.id = (SELECT max(id) FROM audit_log) AND a.at != t.updated_at",
        [],
    );
    assert_eq!(mismatched, 0, "the audit time is the change's time");
    host.stop().assert_code(0);
}

#[test]
fn run_wait_on_a_paused_task_returns_promptly_with_the_runs_result() {
    let mut host = scheduler_host();
    host.start();
    let data = r#"{"message": "ran while paused"}"#;
    let create = ["scheduler:create", "--name", "p1", "--command", "system:echo", "--schedule", "1h", "--data", data];
    host.cli(&create).assert_code(0);
    host.cli(&["scheduler:pause", "--id", "p1"]).assert_code(0);
    let started = Instant::now();
    let out = host.cli(&["scheduler:run", "--id", "p1", "--wait", "--format", "json", "--call-timeout", "20000"]);
    out.assert_code(0);
    assert!(started.elapsed() < Duration::from_secs(10), "run --wait took {:?}", started.elapsed());
    let execution = out.json();
    assert_eq!(execution["status"], "completed", "{execution}");
    assert_eq!(execution["trigger"], "manual");
    // It does not block the next manual run either.
    host.cli(&["scheduler:run", "--id", "p1", "--wait", "--call-timeout", "20000"]).assert_code(0);
    let status: String =
        db(&host).query_row("SELECT status FROM scheduled_tasks WHERE name = 'p1'", [], |row| row.get(0)).unwrap();
    assert_eq!(status, "paused", "the task stays paused");
    host.stop().assert_code(0);
}

#[test]
fn secrets_in_task_data_and_in_a_failed_commands_message_reach_neither_the_audit_log_nor_the_log() {
    let mut host = scheduler_host();
    host.start();
    let create = ["scheduler:create", "--name", "secretive", "--command", "system:echo", "--schedule", "1h"];
    let mut args = create.to_vec();
    args.extend(["--data", r#"{"password":"hunter2"}"#]);
    host.cli(&args).assert_code(0);
    host.cli(&["scheduler:update", "--id", "secretive", "--data", r#"{"password":"hunter3"}"#]).assert_code(0);
    let fail = ["scheduler:create", "--name", "leaky", "--command", "system:fail", "--schedule", "now", "--once"];
    let mut args = fail.to_vec();
    args.extend(["--retries", "0", "--data", r#"{"message":"token=sup3rs3cret"}"#]);
    host.cli(&args).assert_code(0);
    wait_for("the failing run", Duration::from_secs(10), || {
        count(&host, "SELECT count(*) FROM task_executions WHERE status = 'failed'", []) == 1
    });
    // The owner still sees the message in the execution row.
    let error: String =
        db(&host).query_row("SELECT error FROM task_executions WHERE status = 'failed'", [], |row| row.get(0)).unwrap();
    assert!(error.contains("sup3rs3cret"), "{error}");
    // Called directly, the caller gets the message; the log does not.
    let direct = host.cli(&["system:fail", "--message", "token=direct-s3cret"]);
    assert!(direct.stderr.contains("direct-s3cret"), "{}", direct.stderr);
    host.stop().assert_code(0);

    let details: Vec<String> = {
        let conn = db(&host);
        let mut stmt = conn.prepare("SELECT details FROM audit_log").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(details.len(), 3);
    for secret in ["hunter2", "hunter3", "sup3rs3cret", "direct-s3cret"] {
        assert!(details.iter().all(|row| !row.contains(secret)), "{secret} in the audit log: {details:?}");
        assert!(!host.log().contains(secret), "{secret} in the host log");
    }
}
