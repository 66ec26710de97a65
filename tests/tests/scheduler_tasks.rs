//! The scheduler's task commands end to end: `scheduler:list`, `get`, `create`, `update`,
//! `delete`, `pause` and `resume` through the real binary, asserting on `--format json`
//! output, on the SQLite database (opened read-only next to the running host), and on the
//! lifecycle events the recorder module receives.
//!
//! Every refused request is checked twice: a one-line message naming the problem with a
//! non-zero exit, and a database that did not change.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::time::{Duration, Instant};

use blackbox::{CliOutput, HostSpec, TestHost};
use jiff::Timestamp;
use serde_json::{Value, json};

const SCHEDULER: [&str; 3] = ["modules/system", "modules/scheduler", "tests/fixtures/recorder"];

fn scheduler_host() -> TestHost {
    let mut host =
        TestHost::new(HostSpec { modules: SCHEDULER.iter().map(|m| (*m).to_owned()).collect(), ..HostSpec::default() });
    host.start();
    host
}

fn db(host: &TestHost) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap()
}

fn count(host: &TestHost, sql: &str) -> i64 {
    db(host).query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Every row of every scheduler table, as text: equal dumps mean nothing was written.
fn dump(host: &TestHost) -> Vec<String> {
    let conn = db(host);
    let mut out = Vec::new();
    for table in ["scheduled_tasks", "task_executions", "audit_log"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..columns).map(|i| format!("{:?}", row.get_ref(i).unwrap())).collect();
            out.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    out
}

/// One task row as JSON (column name → value), `None` when absent.
fn task_row(host: &TestHost, name: &str) -> Option<Value> {
    let conn = db(host);
    let mut stmt = conn.prepare("SELECT * FROM scheduled_tasks WHERE name = ?1").unwrap();
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let mut rows = stmt.query([name]).unwrap();
    let row = rows.next().unwrap()?;
    let mut object = serde_json::Map::new();
    for (i, column) in names.iter().enumerate() {
        let value = match row.get_ref(i).unwrap() {
            rusqlite::types::ValueRef::Null => Value::Null,
            rusqlite::types::ValueRef::Integer(n) => json!(n),
            rusqlite::types::ValueRef::Real(x) => json!(x),
            rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
            rusqlite::types::ValueRef::Blob(_) => json!("<blob>"),
        };
        object.insert(column.clone(), value);
    }
    Some(Value::Object(object))
}

/// The audit rows, oldest first, as (actor, action, task_id, details).
fn audit(host: &TestHost) -> Vec<(String, String, Option<String>, Value)> {
    let conn = db(host);
    let mut stmt = conn.prepare("SELECT actor, action, task_id, details FROM audit_log ORDER BY id").unwrap();
    stmt.query_map([], |row| {
        let details: String = row.get(3)?;
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, serde_json::from_str(&details).unwrap()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn at(value: &Value) -> Timestamp {
    value.as_str().unwrap_or_else(|| panic!("an instant, got {value}")).parse().unwrap()
}

fn ms(value: &Value) -> i64 {
    at(value).as_millisecond()
}

fn create(host: &TestHost, args: &[&str]) -> Value {
    let mut all = vec!["scheduler:create"];
    all.extend_from_slice(args);
    host.json(&all)
}

/// Runs a command that must fail with `exit`, a one-line message containing `message`
/// on stderr, and (for errors from the scheduler) the JSON error `code` on stdout.
fn refused(host: &TestHost, args: &[&str], exit: i32, code: Option<&str>, message: &str) -> CliOutput {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = host.cli(&all);
    out.assert_code(exit);
    let stderr = out.stderr.trim();
    if code.is_some() {
        assert_eq!(stderr.lines().count(), 1, "one line for {args:?}:\n{stderr}");
    }
    assert!(stderr.contains(message), "{args:?}: expected '{message}' in:\n{stderr}");
    if let Some(code) = code {
        assert_eq!(out.json()["error"]["code"], code, "{args:?}");
    }
    out
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn names(tasks: &Value) -> Vec<String> {
    tasks.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn create_makes_a_task_of_each_schedule_kind_and_stores_it() {
    let host = scheduler_host();

    let cron = create(
        &host,
        &[
            "--name",
            "nightly",
            "--command",
            "system:echo",
            "--schedule",
            "0 2 * * *",
            "--timezone",
            "Europe/Berlin",
            "--data",
            r#"{"message":"backup"}"#,
            "--retries",
            "2",
            "--retry-delay-ms",
            "1500",
            "--timeout-ms",
            "60000",
            "--overlap",
            "queue",
            "--misfire",
            "skip",
        ],
    );
    let keys: Vec<&str> = cron.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "tenant",
            "command",
            "schedule",
            "kind",
            "timezone",
            "status",
            "next_run_at",
            "last_run_at",
            "last_status",
            "data",
            "retries",
            "retry_delay_ms",
            "timeout_ms",
            "overlap",
            "misfire",
            "runs",
            "successes",
            "failures",
            "consecutive_failures",
            "created_at",
            "updated_at"
        ]
    );
    let mut fixed = cron.clone();
    for volatile in ["id", "next_run_at", "created_at", "updated_at"] {
        fixed[volatile] = Value::Null;
    }
    assert_eq!(
        fixed,
        json!({
            "id": null, "name": "nightly", "tenant": "default", "command": "system:echo",
            "schedule": "0 2 * * *", "kind": "cron", "timezone": "Europe/Berlin", "status": "active",
            "next_run_at": null, "last_run_at": null, "last_status": null, "data": {"message": "backup"},
            "retries": 2, "retry_delay_ms": 1500, "timeout_ms": 60000, "overlap": "queue", "misfire": "skip",
            "runs": 0, "successes": 0, "failures": 0, "consecutive_failures": 0,
            "created_at": null, "updated_at": null
        })
    );
    // 02:00 in Berlin is 01:00Z in winter and 00:00Z in summer, within the next day.
    let next = at(&cron["next_run_at"]).in_tz("Europe/Berlin").unwrap();
    assert_eq!((next.hour(), next.minute(), next.second()), (2, 0, 0), "{next}");
    assert!(at(&cron["next_run_at"]) > at(&cron["created_at"]));
    assert!(ms(&cron["next_run_at"]) - ms(&cron["created_at"]) <= 25 * 3_600_000);

    let row = task_row(&host, "nightly").unwrap();
    assert_eq!(row["id"], cron["id"]);
    assert_eq!(row["schedule_kind"], "cron");
    assert_eq!(row["schedule_expr"], "0 2 * * *");
    assert_eq!(row["timezone"], "Europe/Berlin");
    assert_eq!(row["status"], "active");
    assert_eq!(row["data"], r#"{"message":"backup"}"#);
    assert_eq!(
        (row["retries"].clone(), row["retry_delay_ms"].clone(), row["timeout_ms"].clone()),
        (json!(2), json!(1500), json!(60000))
    );
    assert_eq!((row["overlap_policy"].clone(), row["misfire_policy"].clone()), (json!("queue"), json!("skip")));
    assert_eq!(row["next_run_at"], json!(ms(&cron["next_run_at"])));

    let interval = create(&host, &["--name", "every-5m", "--command", "system:health", "--schedule", "5m"]);
    assert_eq!((interval["kind"].clone(), interval["schedule"].clone()), (json!("interval"), json!("5m")));
    assert_eq!(interval["timezone"], "UTC");
    assert_eq!(interval["data"], json!({}));
    assert_eq!(ms(&interval["next_run_at"]) - ms(&interval["created_at"]), 300_000);
    let row = task_row(&host, "every-5m").unwrap();
    assert_eq!(row["next_run_at"].as_i64().unwrap() - row["anchor_at"].as_i64().unwrap(), 300_000);
    // Absent values take the config's defaults.
    assert_eq!((interval["retries"].clone(), interval["retry_delay_ms"].clone()), (json!(3), json!(5000)));
    assert_eq!((interval["timeout_ms"].clone(), interval["overlap"].clone()), (json!(3_600_000), json!("skip")));
    assert_eq!(interval["misfire"], "run_once");

    let once = create(
        &host,
        &["--name", "launch", "--command", "system:health", "--schedule", "2099-01-05T09:30:00Z", "--once"],
    );
    assert_eq!((once["kind"].clone(), once["schedule"].clone()), (json!("once"), json!("2099-01-05T09:30:00Z")));
    assert_eq!(once["next_run_at"], "2099-01-05T09:30:00Z");
    assert_eq!(task_row(&host, "launch").unwrap()["next_run_at"], json!(ms(&json!("2099-01-05T09:30:00Z"))));

    let manual = create(&host, &["--name", "by-hand", "--command", "system:health", "--schedule", "manual"]);
    assert_eq!((manual["kind"].clone(), manual["schedule"].clone()), (json!("manual"), json!("manual")));
    assert_eq!(manual["next_run_at"], Value::Null);
    assert_eq!(task_row(&host, "by-hand").unwrap()["next_run_at"], Value::Null);

    let preset = create(&host, &["--name", "weekly", "--command", "system:health", "--schedule", "weekly mon 09:00"]);
    assert_eq!((preset["kind"].clone(), preset["schedule"].clone()), (json!("cron"), json!("0 9 * * 1")));
    let next = at(&preset["next_run_at"]).in_tz("UTC").unwrap();
    assert_eq!((next.weekday(), next.hour(), next.minute()), (jiff::civil::Weekday::Monday, 9, 0));

    assert_eq!(count(&host, "SELECT count(*) FROM scheduled_tasks"), 5);
    // Each creation wrote one audit row: the caller, the parameters exactly as sent and the
    // outcome.
    let rows = audit(&host);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[1].0, "cli");
    assert_eq!(rows[1].1, "task.create");
    assert_eq!(rows[1].2.as_deref(), interval["id"].as_str());
    assert_eq!(
        rows[1].3,
        json!({"name": "every-5m", "command": "system:health", "schedule": "5m", "outcome": "created"})
    );
    assert_eq!(rows[2].3["once"], true);
}

#[test]
fn schedule_now_once_runs_once_immediately_and_completes() {
    let host = scheduler_host();
    let task = create(
        &host,
        &[
            "--name",
            "right-away",
            "--command",
            "system:echo",
            "--schedule",
            "now",
            "--once",
            "--data",
            r#"{"message":"hi"}"#,
        ],
    );
    assert_eq!(task["kind"], "once");
    let done = wait_for("the once task completes", Duration::from_secs(20), || {
        let got = host.json(&["scheduler:get", "--id", "right-away"]);
        (got["status"] == "completed").then_some(got)
    });
    assert_eq!((done["runs"].clone(), done["successes"].clone()), (json!(1), json!(1)));
    assert_eq!(done["last_status"], "completed");
    assert_eq!(done["next_run_at"], Value::Null);
    assert!(done["last_run_at"].is_string());
    let id = task["id"].as_str().unwrap();
    let conn = db(&host);
    let (status, output): (String, String) = conn
        .query_row("SELECT status, output FROM task_executions WHERE task_id = ?1", [id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "completed");
    assert_eq!(serde_json::from_str::<Value>(&output).unwrap(), json!({"message": "hi"}));
}

#[test]
fn run_now_starts_one_run_and_keeps_the_schedule() {
    let host = scheduler_host();
    let task = create(&host, &["--name", "hourly", "--command", "system:health", "--schedule", "1h", "--run-now"]);
    let ran = wait_for("the immediate run ends", Duration::from_secs(20), || {
        let got = host.json(&["scheduler:get", "--id", task["id"].as_str().unwrap()]);
        (got["runs"] == 1).then_some(got)
    });
    assert_eq!(ran["last_status"], "completed");
    assert_eq!((ran["status"].clone(), ran["kind"].clone()), (json!("active"), json!("interval")));
    assert_eq!(ran["next_run_at"], task["next_run_at"], "the schedule is kept");
    let trigger: String = db(&host)
        .query_row("SELECT trigger FROM task_executions WHERE task_id = ?1", [task["id"].as_str().unwrap()], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(trigger, "manual");
}

#[test]
fn list_filters_by_status_and_tenant_and_prints_the_declared_columns() {
    let host = scheduler_host();
    for (name, tenant) in [("beta", "default"), ("alpha", "default"), ("gamma", "acme")] {
        create(&host, &["--name", name, "--command", "system:health", "--schedule", "manual", "--tenant", tenant]);
    }
    host.json(&["scheduler:pause", "--id", "beta"]);

    let all = host.json(&["scheduler:list"]);
    assert_eq!(names(&all), ["gamma", "alpha", "beta"], "by tenant, then name");
    assert_eq!(all[0]["tenant"], "acme");
    assert_eq!(names(&host.json(&["scheduler:list", "--status", "paused"])), ["beta"]);
    assert_eq!(names(&host.json(&["scheduler:list", "--status", "active"])), ["gamma", "alpha"]);
    assert_eq!(names(&host.json(&["scheduler:list", "--tenant", "acme"])), ["gamma"]);
    assert_eq!(names(&host.json(&["scheduler:list", "--tenant", "acme", "--status", "paused"])), Vec::<String>::new());

    let table = host.cli(&["scheduler:list"]);
    table.assert_code(0);
    let header: Vec<&str> = table.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "COMMAND", "SCHEDULE", "TIMEZONE", "STATUS", "NEXT_RUN_AT", "LAST_RUN_AT", "LAST_STATUS"]
    );
    assert_eq!(table.stdout.lines().count(), 4);

    refused(&host, &["scheduler:list", "--status", "gone"], 2, None, "invalid value 'gone' for '--status <VALUE>'");
}

#[test]
fn get_finds_a_task_by_id_or_by_name() {
    let host = scheduler_host();
    let task = create(&host, &["--name", "report", "--command", "system:health", "--schedule", "@daily"]);
    let by_id = host.json(&["scheduler:get", "--id", task["id"].as_str().unwrap()]);
    let by_name = host.json(&["scheduler:get", "--id", "report"]);
    assert_eq!(by_id, task);
    assert_eq!(by_name, task);
    let other =
        create(&host, &["--name", "report", "--command", "system:health", "--schedule", "@daily", "--tenant", "acme"]);
    assert_eq!(host.json(&["scheduler:get", "--id", "report", "--tenant", "acme"]), other);
    refused(
        &host,
        &["scheduler:get", "--id", task["id"].as_str().unwrap(), "--tenant", "acme"],
        1,
        Some("not_found"),
        "not found in tenant 'acme'",
    );
}

#[test]
fn every_task_command_names_an_unknown_id_as_not_found() {
    let host = scheduler_host();
    create(&host, &["--name", "kept", "--command", "system:health", "--schedule", "manual"]);
    let before = dump(&host);
    for command in [
        vec!["scheduler:get", "--id", "nope"],
        vec!["scheduler:update", "--id", "nope", "--retries", "1"],
        vec!["scheduler:delete", "--id", "nope", "--confirm"],
        vec!["scheduler:pause", "--id", "nope"],
        vec!["scheduler:resume", "--id", "nope"],
    ] {
        let out = refused(&host, &command, 1, Some("not_found"), "task 'nope' not found (no task has this id or name)");
        assert_eq!(out.stderr.trim(), "error: task 'nope' not found (no task has this id or name)");
    }
    assert_eq!(dump(&host), before);
}

#[test]
fn create_refuses_bad_input_with_one_line_and_writes_nothing() {
    let host = scheduler_host();
    create(&host, &["--name", "dup", "--command", "system:health", "--schedule", "5m"]);
    let before = dump(&host);
    let base = ["scheduler:create", "--name", "new", "--command", "system:health"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<&str>, i32, Option<&str>, &str)> = vec![
        (
            vec!["scheduler:create", "--name", "new", "--command", "system:nope", "--schedule", "5m"],
            2,
            Some("invalid_params"),
            "error: unknown command 'system:nope': no loaded module declares it (see `systemprompt modules`)",
        ),
        (
            vec!["scheduler:create", "--name", "new", "--command", "system:ecko", "--schedule", "5m"],
            2,
            Some("invalid_params"),
            "error: unknown command 'system:ecko': no loaded module declares it (did you mean system:echo?)",
        ),
        (
            vec!["scheduler:create", "--name", "new", "--command", "host:status", "--schedule", "5m"],
            2,
            Some("invalid_params"),
            "error: unknown command 'host:status': no loaded module declares it (see `systemprompt modules`)",
        ),
        (
            with(&["--schedule", "61 * * * *"]),
            2,
            Some("invalid_params"),
            "error: invalid schedule: minute must be 0-59, got 61 (field 1 of '61 * * * *')",
        ),
        (with(&["--schedule", "5m", "--data", "{oops"]), 2, None, "error: --data must be valid JSON"),
        (
            with(&["--schedule", "5m", "--data", "[1, 2]"]),
            2,
            Some("invalid_params"),
            "error: data must be a JSON object (the command's parameters), got an array",
        ),
        (
            vec!["scheduler:create", "--name", "dup", "--command", "system:health", "--schedule", "1h"],
            1,
            Some("conflict"),
            "error: a task named 'dup' already exists in tenant 'default'",
        ),
        (with(&["--schedule", "5m", "--colour", "red"]), 2, None, "unexpected argument '--colour'"),
        (
            with(&["--schedule", "5m", "--timezone", "Mars/Olympus"]),
            2,
            Some("invalid_params"),
            "error: unknown time zone 'Mars/Olympus'; use an IANA name",
        ),
        (
            with(&["--schedule", "5m", "--retries", "101"]),
            2,
            Some("invalid_params"),
            "error: retries must be between 0 and 100, got 101",
        ),
        (
            with(&["--schedule", "5m", "--timeout-ms", "0"]),
            2,
            Some("invalid_params"),
            "error: timeout_ms must be between 1 and 86400000 ms (one day), got 0",
        ),
        (
            with(&["--schedule", "5m", "--retry-delay-ms=-5"]),
            2,
            Some("invalid_params"),
            "error: retry_delay_ms must be between 0 and 86400000 ms (one day), got -5",
        ),
        (
            with(&["--schedule", "0 2 * * *", "--once"]),
            2,
            Some("invalid_params"),
            "error: invalid schedule: '0 2 * * *' is a cron schedule, but a once schedule was requested",
        ),
        (
            vec!["scheduler:create", "--name", "", "--command", "system:health", "--schedule", "5m"],
            2,
            Some("invalid_params"),
            "error: name must not be empty",
        ),
        (
            vec!["scheduler:create", "--name", "new", "--command", "health", "--schedule", "5m"],
            2,
            Some("invalid_params"),
            "error: command must be a bus command 'namespace:command', got 'health'",
        ),
        (
            vec!["scheduler:create", "--name", "new", "--command", "system:health"],
            2,
            None,
            "the following required arguments were not provided",
        ),
    ];
    for (args, exit, code, message) in cases {
        refused(&host, &args, exit, code, message);
        assert_eq!(dump(&host), before, "{args:?} wrote to the store");
    }
}

#[test]
fn update_changes_fields_and_follows_the_new_schedule_kind() {
    let host = scheduler_host();
    let created = create(&host, &["--name", "job", "--command", "system:health", "--schedule", "5m"]);
    std::thread::sleep(Duration::from_millis(5));

    let cron = host.json(&["scheduler:update", "--id", "job", "--schedule", "0 3 * * *"]);
    assert_eq!((cron["kind"].clone(), cron["schedule"].clone()), (json!("cron"), json!("0 3 * * *")));
    let next = at(&cron["next_run_at"]).in_tz("UTC").unwrap();
    assert_eq!((next.hour(), next.minute()), (3, 0));
    assert_eq!(cron["id"], created["id"]);
    assert_eq!(cron["created_at"], created["created_at"]);
    assert!(at(&cron["updated_at"]) > at(&created["updated_at"]));
    let row = task_row(&host, "job").unwrap();
    assert_eq!((row["schedule_kind"].clone(), row["schedule_expr"].clone()), (json!("cron"), json!("0 3 * * *")));
    assert_eq!(row["next_run_at"], json!(ms(&cron["next_run_at"])));

    let zoned = host.json(&["scheduler:update", "--id", "job", "--timezone", "America/New_York"]);
    assert_eq!((zoned["kind"].clone(), zoned["timezone"].clone()), (json!("cron"), json!("America/New_York")));
    let next = at(&zoned["next_run_at"]).in_tz("America/New_York").unwrap();
    assert_eq!((next.hour(), next.minute()), (3, 0), "the next run is recomputed in the new zone");

    let once = host.json(&["scheduler:update", "--id", "job", "--schedule", "2099-06-01T12:00:00Z"]);
    assert_eq!((once["kind"].clone(), once["schedule"].clone()), (json!("once"), json!("2099-06-01T12:00:00Z")));
    assert_eq!(once["next_run_at"], "2099-06-01T12:00:00Z");

    let changed = host.json(&[
        "scheduler:update",
        "--id",
        created["id"].as_str().unwrap(),
        "--name",
        "renamed",
        "--command",
        "system:echo",
        "--data",
        r#"{"message":"x"}"#,
        "--retries",
        "0",
        "--retry-delay-ms",
        "10",
        "--timeout-ms",
        "20",
        "--overlap",
        "allow",
        "--misfire",
        "run_all",
    ]);
    assert_eq!(changed["name"], "renamed");
    assert_eq!(changed["command"], "system:echo");
    assert_eq!(changed["data"], json!({"message": "x"}));
    assert_eq!((changed["retries"].clone(), changed["retry_delay_ms"].clone()), (json!(0), json!(10)));
    assert_eq!((changed["timeout_ms"].clone(), changed["overlap"].clone()), (json!(20), json!("allow")));
    assert_eq!(changed["misfire"], "run_all");
    assert_eq!(changed["next_run_at"], once["next_run_at"], "no schedule change, same next run");
    assert!(task_row(&host, "job").is_none());
    let row = task_row(&host, "renamed").unwrap();
    assert_eq!((row["command"].clone(), row["misfire_policy"].clone()), (json!("system:echo"), json!("run_all")));

    let interval = host.json(&["scheduler:update", "--id", "renamed", "--schedule", "10m"]);
    assert_eq!(interval["kind"], "interval");
    assert_eq!(ms(&interval["next_run_at"]) - ms(&interval["updated_at"]), 600_000, "counted from the update");

    let actions: Vec<String> = audit(&host).into_iter().map(|row| row.1).collect();
    assert_eq!(actions, ["task.create", "task.update", "task.update", "task.update", "task.update", "task.update"]);
    assert_eq!(audit(&host)[2].3, json!({"id": "job", "timezone": "America/New_York", "outcome": "updated"}));
}

#[test]
fn update_refuses_bad_input_and_leaves_the_task_as_it_was() {
    let host = scheduler_host();
    create(&host, &["--name", "job", "--command", "system:health", "--schedule", "5m"]);
    create(&host, &["--name", "other", "--command", "system:health", "--schedule", "5m"]);
    let before = dump(&host);
    let cases: Vec<(Vec<&str>, i32, Option<&str>, &str)> = vec![
        (vec!["--schedule", "*/0 * * * *"], 2, Some("invalid_params"), "error: invalid schedule: step in minute"),
        (vec!["--command", "system:nope"], 2, Some("invalid_params"), "error: unknown command 'system:nope'"),
        (vec!["--data", "42"], 2, Some("invalid_params"), "error: data must be a JSON object"),
        (vec!["--data", "{oops"], 2, None, "error: --data must be valid JSON"),
        (
            vec!["--name", "other"],
            1,
            Some("conflict"),
            "error: a task named 'other' already exists in tenant 'default'",
        ),
        (vec!["--timezone", "Nowhere/Land"], 2, Some("invalid_params"), "error: unknown time zone 'Nowhere/Land'"),
        (vec!["--retries=-1"], 2, Some("invalid_params"), "error: retries must be between 0 and 100, got -1"),
        (
            vec!["--schedule", "0 2 * * *", "--once"],
            2,
            Some("invalid_params"),
            "error: invalid schedule: '0 2 * * *' is a cron schedule, but a once schedule was requested",
        ),
        (vec![], 2, Some("invalid_params"), "error: nothing to update: give at least one of name, schedule"),
        (vec!["--colour", "red"], 2, None, "unexpected argument '--colour'"),
    ];
    for (extra, exit, code, message) in cases {
        let mut args = vec!["scheduler:update", "--id", "job"];
        args.extend(extra);
        refused(&host, &args, exit, code, message);
        assert_eq!(dump(&host), before, "{args:?} wrote to the store");
    }
}

#[test]
fn pause_and_resume_one_task() {
    let host = scheduler_host();
    let task = create(&host, &["--name", "tick", "--command", "system:health", "--schedule", "1h"]);

    let paused = host.json(&["scheduler:pause", "--id", "tick"]);
    assert_eq!(paused["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(paused["tasks"][0]["status"], "paused");
    assert_eq!(paused["tasks"][0]["next_run_at"], Value::Null);
    let row = task_row(&host, "tick").unwrap();
    assert_eq!((row["status"].clone(), row["next_run_at"].clone()), (json!("paused"), Value::Null));
    assert_eq!(host.json(&["scheduler:pause", "--id", "tick"]), json!({"tasks": []}), "already paused");

    std::thread::sleep(Duration::from_millis(5));
    let resumed = host.json(&["scheduler:resume", "--id", task["id"].as_str().unwrap()]);
    let view = &resumed["tasks"][0];
    assert_eq!(view["status"], "active");
    // The next occurrence after now, on the interval's original phase: no missed run is due.
    let ahead = ms(&view["next_run_at"]) - ms(&view["updated_at"]);
    assert!(ahead > 0 && ahead <= 3_600_000, "{ahead}");
    let row = task_row(&host, "tick").unwrap();
    assert_eq!(row["next_run_at"], json!(ms(&view["next_run_at"])));
    assert_eq!((row["next_run_at"].as_i64().unwrap() - row["anchor_at"].as_i64().unwrap()) % 3_600_000, 0);
    assert_eq!(host.json(&["scheduler:resume", "--id", "tick"]), json!({"tasks": []}), "already active");

    let actions: Vec<String> = audit(&host).into_iter().map(|row| row.1).collect();
    assert_eq!(actions, ["task.create", "task.pause", "task.resume"]);
}

#[test]
fn pause_and_resume_all_tasks_return_the_ones_that_changed() {
    let host = scheduler_host();
    for name in ["a", "b", "c"] {
        create(&host, &["--name", name, "--command", "system:health", "--schedule", "1h"]);
    }
    create(&host, &["--name", "d", "--command", "system:health", "--schedule", "1h", "--tenant", "acme"]);
    host.json(&["scheduler:pause", "--id", "b"]);

    let paused = host.json(&["scheduler:pause", "--tenant", "default"]);
    assert_eq!(names(&paused["tasks"]), ["a", "c"]);
    assert_eq!(task_row(&host, "d").unwrap()["status"], "active", "another tenant is left alone");

    let paused = host.json(&["scheduler:pause"]);
    assert_eq!(names(&paused["tasks"]), ["d"]);
    assert_eq!(count(&host, "SELECT count(*) FROM scheduled_tasks WHERE status = 'paused' AND next_run_at IS NULL"), 4);

    let resumed = host.json(&["scheduler:resume"]);
    assert_eq!(names(&resumed["tasks"]), ["d", "a", "b", "c"]);
    for task in resumed["tasks"].as_array().unwrap() {
        assert_eq!(task["status"], "active");
        let ahead = ms(&task["next_run_at"]) - ms(&task["updated_at"]);
        assert!(ahead > 0 && ahead <= 3_600_000, "{ahead}");
    }
    assert_eq!(count(&host, "SELECT count(*) FROM scheduled_tasks WHERE status = 'active'"), 4);
    assert_eq!(host.json(&["scheduler:resume"]), json!({"tasks": []}));
    assert_eq!(count(&host, "SELECT count(*) FROM audit_log WHERE action = 'task.resume'"), 4);
}

#[test]
fn a_completed_once_task_cannot_be_paused_or_resumed_but_an_update_revives_it() {
    let host = scheduler_host();
    create(&host, &["--name", "one-off", "--command", "system:health", "--schedule", "now", "--once"]);
    wait_for("the once task completes", Duration::from_secs(20), || {
        (host.json(&["scheduler:get", "--id", "one-off"])["status"] == "completed").then_some(())
    });
    let before = dump(&host);
    refused(
        &host,
        &["scheduler:resume", "--id", "one-off"],
        1,
        Some("conflict"),
        "error: task 'one-off' is completed: a completed once task cannot be resumed; update its schedule instead",
    );
    refused(&host, &["scheduler:pause", "--id", "one-off"], 1, Some("conflict"), "error: task 'one-off' is completed");
    assert_eq!(dump(&host), before);
    assert_eq!(host.json(&["scheduler:resume"]), json!({"tasks": []}), "resume all skips completed tasks");

    let revived = host.json(&["scheduler:update", "--id", "one-off", "--schedule", "2099-01-01T00:00:00Z"]);
    assert_eq!(revived["status"], "active");
    assert_eq!(revived["next_run_at"], "2099-01-01T00:00:00Z");
}

#[test]
fn delete_needs_confirm_and_keeps_the_history_readable() {
    let host = scheduler_host();
    let task = create(&host, &["--name", "gone-soon", "--command", "system:health", "--schedule", "now", "--once"]);
    wait_for("the once task completes", Duration::from_secs(20), || {
        (host.json(&["scheduler:get", "--id", "gone-soon"])["status"] == "completed").then_some(())
    });
    let id = task["id"].as_str().unwrap();
    let before = dump(&host);

    let out = host.cli(&["scheduler:delete", "--id", "gone-soon"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: scheduler:delete needs --confirm when not run from a terminal");
    assert_eq!(dump(&host), before);

    let deleted = host.json(&["scheduler:delete", "--id", "gone-soon", "--confirm"]);
    assert_eq!(deleted["deleted"]["id"], id);
    assert_eq!(deleted["deleted"]["status"], "completed");
    assert_eq!(deleted["deleted"]["runs"], 1);
    assert!(task_row(&host, "gone-soon").is_none());
    let history = format!("SELECT count(*) FROM task_executions WHERE task_id = '{id}' AND status = 'completed'");
    assert_eq!(count(&host, &history), 1, "the history outlives the task");
    let last = audit(&host).pop().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("cli", "task.delete"));
    assert_eq!(last.3, json!({"id": "gone-soon", "confirm": true, "outcome": "deleted"}));

    refused(&host, &["scheduler:get", "--id", id], 1, Some("not_found"), &format!("task '{id}' not found"));
    refused(&host, &["scheduler:delete", "--id", id, "--confirm"], 1, Some("not_found"), "not found");
}

#[test]
fn lifecycle_events_reach_subscribers_in_order_with_the_task_view() {
    let host = scheduler_host();
    // A manual task never runs by itself, so no `task-event` joins the lifecycle events.
    let created = create(&host, &["--name", "watched", "--command", "system:health", "--schedule", "manual"]);
    let updated = host.json(&["scheduler:update", "--id", "watched", "--data", r#"{"a":1}"#]);
    let paused = host.json(&["scheduler:pause", "--id", "watched"]);
    let resumed = host.json(&["scheduler:resume", "--id", "watched"]);
    let deleted = host.json(&["scheduler:delete", "--id", "watched", "--confirm"]);

    let events = wait_for("five lifecycle events", Duration::from_secs(10), || {
        let events = host.json(&["recorder:events", "--prefix", "scheduler:task-"]);
        (events.as_array().unwrap().len() >= 5).then_some(events)
    });
    let id = created["id"].clone();
    let expected = [
        ("scheduler:task-created", &created),
        ("scheduler:task-updated", &updated),
        ("scheduler:task-paused", &paused["tasks"][0]),
        ("scheduler:task-resumed", &resumed["tasks"][0]),
        ("scheduler:task-deleted", &deleted["deleted"]),
    ];
    assert_eq!(events.as_array().unwrap().len(), expected.len(), "{events:#}");
    for (event, (name, view)) in events.as_array().unwrap().iter().zip(expected) {
        assert_eq!(event["name"], name);
        assert_eq!(
            event["payload"],
            json!({"task_id": id, "name": "watched", "tenant": "default", "task": view}),
            "{name}"
        );
    }
    assert_eq!(events[1]["payload"]["task"]["data"], json!({"a": 1}));
    assert_eq!(events[2]["payload"]["task"]["status"], "paused");
}

#[test]
fn create_help_lists_the_schedule_forms() {
    let host =
        TestHost::new(HostSpec { modules: SCHEDULER.iter().map(|m| (*m).to_owned()).collect(), ..HostSpec::default() });
    let out = host.cli(&["scheduler:create", "--help"]);
    out.assert_code(0);
    for form in [
        "'0 2 * * *'",
        "'5m'",
        "'daily 02:30'",
        "'weekly mon 09:00'",
        "'monthly 31 23:00'",
        "'every 15m'",
        "'now'",
        "'manual'",
    ] {
        assert!(out.stdout.contains(form), "{form} missing from:\n{}", out.stdout);
    }
}
