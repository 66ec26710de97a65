//! The wall clock set back under a running host (issue 8, item 4), through libfaketime
//! (Debian package `faketime`): only the wall clock (`CLOCK_REALTIME`) is faked, as a real
//! clock step does, and the offset is read from a file the test rewrites mid-run.
//!
//! Skipped, with the reason on stderr, when libfaketime is not installed.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};

const MODULES: [&str; 2] = ["modules/system", "modules/scheduler"];

/// libfaketime's preload library; the thread-safe build first (the host is multi-threaded).
fn libfaketime() -> Option<PathBuf> {
    ["libfaketimeMT.so.1", "libfaketime.so.1"]
        .iter()
        .map(|name| Path::new("/usr/lib/x86_64-linux-gnu/faketime").join(name))
        .find(|path| path.exists())
}

fn db(host: &TestHost) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap()
}

fn count(host: &TestHost, sql: &str, param: i64) -> i64 {
    db(host).query_row(sql, [param], |row| row.get(0)).unwrap()
}

/// Polls until `done` holds or `limit` passes; returns how long it took.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

#[test]
fn a_one_second_task_keeps_firing_after_the_wall_clock_is_set_back_an_hour() {
    let Some(library) = libfaketime() else {
        eprintln!(
            "skipped: libfaketime is not installed (/usr/lib/x86_64-linux-gnu/faketime/); \
             install the Debian package `faketime`"
        );
        return;
    };
    let mut host =
        TestHost::new(HostSpec { modules: MODULES.iter().map(|m| (*m).to_owned()).collect(), ..HostSpec::default() });
    let offset_file = host.data_dir().join("faketime.rc");
    std::fs::write(&offset_file, "+0\n").unwrap();
    let library = library.display().to_string();
    let offset_path = offset_file.display().to_string();
    host.start_with_env(&[
        ("LD_PRELOAD", &library),
        ("FAKETIME_TIMESTAMP_FILE", &offset_path),
        // Re-read the file at every clock read, so the rewrite takes effect at once.
        ("FAKETIME_NO_CACHE", "1"),
        // Only the wall clock moves; tokio's monotonic clock does not, as with a real step.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ]);
    host.cli(&["scheduler:create", "--name", "tick", "--command", "system:health", "--schedule", "1s"]).assert_code(0);
    let all = "SELECT COUNT(*) FROM task_executions WHERE status = 'completed' AND ?1 = ?1";
    wait_for(Duration::from_secs(10), "three fires before the jump", || count(&host, all, 0) >= 3);

    let jumped_at = blackbox::wall_now().as_millisecond();
    std::fs::write(&offset_file, "-3600\n").unwrap();
    // Fires at the new wall clock: scheduled half an hour or more before the real time.
    let relived = "SELECT COUNT(*) FROM task_executions WHERE status = 'completed' AND scheduled_for < ?1 - 1800000";
    let took = wait_for(Duration::from_secs(15), "three fires at the new wall clock", || {
        count(&host, relived, jumped_at) >= 3
    });
    assert!(took < Duration::from_secs(8), "fires resumed within a few seconds of the jump, took {took:?}");

    let conn = db(&host);
    let duplicated: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT COUNT(*) AS n FROM task_executions WHERE origin = 'schedule' \
             GROUP BY task_id, scheduled_for, attempt, clock_epoch HAVING n > 1)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(duplicated, 0, "no occurrence written twice");
    let jump_ms: i64 = conn.query_row("SELECT jump_ms FROM clock_epochs", [], |row| row.get(0)).unwrap();
    assert!((3_598_000..=3_602_000).contains(&jump_ms), "one jump of about an hour recorded, got {jump_ms} ms");
    let log = host.log();
    assert!(log.contains("The wall clock went back") && log.contains("jump_ms="), "the jump is logged:\n{log}");
    host.stop().assert_code(0);
}
