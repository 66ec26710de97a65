//! Input rules that used to accept what they should refuse, or refuse with a message that
//! did not state the rule (issue 8, "unclear errors" and item 10's task data cap): each is
//! refused with one line stating the rule, exit 2, `invalid_params`, and nothing written.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use blackbox::{HostSpec, TestHost};

const MODULES: [&str; 2] = ["modules/system", "modules/scheduler"];

fn host(extra_config: &str) -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: MODULES.iter().map(|m| (*m).to_owned()).collect(),
        extra_config: extra_config.to_owned(),
        ..HostSpec::default()
    });
    host.start();
    host
}

fn rows(host: &TestHost) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM scheduled_tasks) + (SELECT COUNT(*) FROM audit_log) \
         + (SELECT COUNT(*) FROM task_executions)",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

/// The command fails with exit 2 (a usage error), `invalid_params` and exactly `message` on one line, and
/// writes nothing.
fn refused(host: &TestHost, args: &[&str], message: &str) {
    let before = rows(host);
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = host.cli(&all);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), format!("error: {message}"), "{args:?}");
    assert_eq!(out.json()["error"]["code"], "invalid_params", "{args:?}");
    assert_eq!(rows(host), before, "nothing written by {args:?}");
}

fn create<'a>(name: &'a str, schedule: &'a str) -> Vec<&'a str> {
    vec!["scheduler:create", "--name", name, "--command", "system:health", "--schedule", schedule]
}

#[test]
fn a_once_time_past_the_supported_range_states_the_range() {
    let host = host("");
    let mut args = create("far", "9999-12-31T23:59:59Z");
    args.push("--once");
    refused(
        &host,
        &args,
        "invalid schedule: one-off time '9999-12-31T23:59:59Z' is out of range: an instant must be between \
         -009999-01-02T01:59:59Z and 9999-12-30T22:00:00Z",
    );
}

#[test]
fn an_offset_beyond_eighteen_hours_is_refused_in_once_times_and_instants() {
    let host = host("");
    refused(
        &host,
        &create("typo", "2027-01-05T09:30:00+25:00"),
        "invalid schedule: one-off time '2027-01-05T09:30:00+25:00' has the UTC offset +25:00; an offset \
         must be between -18:00 and +18:00",
    );
    refused(
        &host,
        &["scheduler:next", "--schedule", "5m", "--after", "2027-01-05T09:30:00-19:00"],
        "after: '2027-01-05T09:30:00-19:00' has the UTC offset -19:00; an offset must be between -18:00 and +18:00",
    );
}

#[test]
fn names_and_tenants_with_invisible_characters_are_refused_naming_the_character() {
    let host = host("");
    refused(
        &host,
        &create("invoice\u{202E}fdp.exe", "1h"),
        "name must not contain control or invisible formatting characters (they hide or reorder what is \
         shown), got U+202E at character 8",
    );
    let mut args = create("backup", "1h");
    args.extend(["--tenant", "acme\u{200B}"]);
    refused(
        &host,
        &args,
        "tenant must not contain control or invisible formatting characters (they hide or reorder what is \
         shown), got U+200B at character 5",
    );
}

#[test]
fn an_empty_tenant_filter_is_refused_everywhere_as_create_refuses_it() {
    let host = host("");
    host.json(&create("kept", "1h"));
    for command in ["scheduler:pause", "scheduler:resume", "scheduler:list"] {
        refused(&host, &[command, "--tenant", ""], "tenant must not be empty");
    }
    refused(&host, &["scheduler:get", "--id", "kept", "--tenant", ""], "tenant must not be empty");
    let listed = host.json(&["scheduler:list"]);
    assert_eq!(listed[0]["status"], "active", "the refused pause changed nothing");
}

#[test]
fn task_data_larger_than_max_task_data_bytes_is_refused_on_create_and_update() {
    let host = host("modules:\n  scheduler:\n    maxTaskDataBytes: 1024\n");
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(2_000));
    let mut args = create("big", "1s");
    args.extend(["--data", &big]);
    refused(
        &host,
        &args,
        "data must be at most 1024 bytes as JSON (scheduler config maxTaskDataBytes; every run copies it), \
         got 2011 bytes",
    );
    host.json(&create("small", "1h"));
    refused(
        &host,
        &["scheduler:update", "--id", "small", "--data", &big],
        "data must be at most 1024 bytes as JSON (scheduler config maxTaskDataBytes; every run copies it), \
         got 2011 bytes",
    );
}
