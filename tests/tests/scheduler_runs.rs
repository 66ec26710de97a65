//! The scheduler's execution commands through the real binary and libraries: `run`
//! (with and without `--wait`), `history`, `next`, `stats`, `validate`, and the
//! `scheduler:task-event`s manual runs publish.
//!
//! Tasks are seeded by [`seed_tasks`] through the scheduler crate's own store before the
//! host starts (`scheduler:create` is not on this branch); swap it for `scheduler:create`
//! calls once it is.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::path::Path;
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};
use scheduler::config::SchedulerConfig;
use scheduler::store::{SqliteStore, Store};
use scheduler::task::{NewTask, TaskSchedule};
use serde_json::{Value, json};

/// One task for [`seed_tasks`]: no retries, a 10 s timeout and data `{}` unless changed.
struct Seed {
    name: &'static str,
    command: &'static str,
    schedule: &'static str,
    timezone: Option<&'static str>,
    data: Value,
    retries: u32,
    timeout_ms: u64,
    paused: bool,
}

impl Seed {
    fn new(name: &'static str, command: &'static str, schedule: &'static str) -> Seed {
        Seed { name, command, schedule, timezone: None, data: json!({}), retries: 0, timeout_ms: 10_000, paused: false }
    }

    fn data(self, data: Value) -> Seed {
        Seed { data, ..self }
    }

    fn timezone(self, timezone: &'static str) -> Seed {
        Seed { timezone: Some(timezone), ..self }
    }

    fn retries(self, retries: u32) -> Seed {
        Seed { retries, ..self }
    }

    fn timeout_ms(self, timeout_ms: u64) -> Seed {
        Seed { timeout_ms, ..self }
    }

    fn paused(self) -> Seed {
        Seed { paused: true, ..self }
    }
}

/// Test-only: writes tasks into `<data_dir>/scheduler.db` with the scheduler's store, before
/// the host starts; returns their ids in order. Retries wait 100 ms.
fn seed_tasks(data_dir: &Path, tasks: &[Seed]) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let store = SqliteStore::open(&data_dir.join("scheduler.db")).unwrap();
    let defaults = SchedulerConfig::default().task_defaults();
    let now = blackbox::wall_now();
    let ids = tasks
        .iter()
        .map(|seed| {
            let schedule = TaskSchedule::parse(seed.schedule, seed.timezone.map(str::to_owned), None, now).unwrap();
            let mut task = NewTask::new(seed.name, seed.command, schedule, &defaults);
            task.data = seed.data.clone();
            task.retries = seed.retries;
            task.retry_delay = Duration::from_millis(100);
            task.timeout = Duration::from_millis(seed.timeout_ms);
            task.paused = seed.paused;
            runtime.block_on(store.create_task(task, now)).unwrap().id.to_string()
        })
        .collect();
    drop(store);
    ids
}

/// A started host with the system and scheduler modules (and the event recorder), whose
/// database holds `tasks`.
fn host_with(tasks: &[Seed], recorder: bool) -> (TestHost, Vec<String>) {
    let mut modules = vec!["modules/system".to_owned(), "modules/scheduler".to_owned()];
    if recorder {
        modules.push("tests/fixtures/recorder".to_owned());
    }
    let mut host = TestHost::new(HostSpec { modules, ..HostSpec::default() });
    let ids = seed_tasks(&host.data_dir(), tasks);
    host.start();
    (host, ids)
}

fn host(tasks: &[Seed]) -> (TestHost, Vec<String>) {
    host_with(tasks, false)
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

fn ats(fires: &Value) -> Vec<&str> {
    fires.as_array().unwrap().iter().map(|fire| fire["at"].as_str().unwrap()).collect()
}

const EXECUTION_FIELDS: [&str; 18] = [
    "id",
    "task_id",
    "task_name",
    "scheduled_for",
    "trigger",
    "attempt",
    "status",
    "started_at",
    "finished_at",
    "duration_ms",
    "output",
    "exit_code",
    "error",
    "node",
    "idempotency_key",
    "source",
    "schedule_id",
    "schedule_name",
];

// scheduler:run

#[test]
fn run_without_wait_answers_with_the_execution_id_at_once() {
    let (host, ids) = host(&[Seed::new("nap", "system:sleep", "manual").data(json!({"ms": 5_000}))]);
    let started = Instant::now();
    let out = host.json(&["scheduler:run", "--id", "nap"]);
    assert!(started.elapsed() < Duration::from_secs(4), "run waited for the task: {:?}", started.elapsed());
    assert_eq!(keys(&out), ["execution_id", "task_id", "name"]);
    assert!(out["execution_id"].as_i64().unwrap() > 0, "{out}");
    assert_eq!(out["task_id"], ids[0].as_str());
    assert_eq!(out["name"], "nap");
    let history = host.json(&["scheduler:history", "--task", &ids[0]]);
    assert_eq!(history[0]["id"], out["execution_id"]);
    assert_eq!(history[0]["trigger"], "manual");
}

#[test]
fn run_wait_on_an_echo_task_exits_0_and_prints_its_output() {
    let (host, ids) = host(&[Seed::new("greet", "system:echo", "manual").data(json!({"message": "hi"}))]);
    let out = host.cli(&["scheduler:run", "--id", "greet", "--wait"]);
    out.assert_code(0);
    assert!(out.stdout.contains("output:\n  message  hi\n"), "{}", out.stdout);
    let execution = host.json(&["scheduler:run", "--id", &ids[0], "--wait"]);
    assert_eq!(keys(&execution), EXECUTION_FIELDS);
    assert_eq!(execution["task_id"], ids[0].as_str());
    assert_eq!(execution["task_name"], "greet");
    assert_eq!(execution["trigger"], "manual");
    assert_eq!(execution["attempt"], 1);
    assert_eq!(execution["status"], "completed");
    assert_eq!(execution["output"], json!({"message": "hi"}));
    assert_eq!(execution["error"], Value::Null);
    assert_eq!(execution["node"], "local");
    assert!(execution["duration_ms"].is_i64(), "{execution}");
    for field in ["scheduled_for", "started_at", "finished_at"] {
        let text = execution[field].as_str().unwrap();
        assert!(text.ends_with('Z') && text.parse::<scheduler::Timestamp>().is_ok(), "{field}: {text}");
    }
}

#[test]
fn run_wait_on_a_failing_task_exits_1_with_the_execution_status_and_error() {
    let (host, _) = host(&[Seed::new("breaks", "system:fail", "manual").data(json!({"message": "boom"}))]);
    let out = host.cli(&["scheduler:run", "--id", "breaks", "--wait", "--format", "json"]);
    out.assert_code(1);
    let error = &out.json()["error"];
    assert_eq!(error["code"], "failed");
    let id = error["details"]["id"].as_i64().unwrap();
    assert_eq!(
        out.stderr.trim(),
        format!("error: execution {id} of task 'breaks' ended failed (attempt 1): failed: boom")
    );
    assert_eq!(keys(&error["details"]), EXECUTION_FIELDS);
    assert_eq!(error["details"]["status"], "failed");
    assert_eq!(error["details"]["error"], "failed: boom");
}

#[test]
fn run_wait_on_a_task_past_its_timeout_exits_1_with_status_timeout() {
    let (host, _) = host(&[Seed::new("slow", "system:sleep", "manual").data(json!({"ms": 30_000})).timeout_ms(300)]);
    let started = Instant::now();
    let out = host.cli(&["scheduler:run", "--id", "slow", "--wait", "--format", "json"]);
    out.assert_code(1);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let details = &out.json()["error"]["details"];
    assert_eq!(details["status"], "timeout");
    assert!(out.stderr.contains("of task 'slow' ended timeout (attempt 1): timed out after 300 ms"), "{}", out.stderr);
}

#[test]
fn run_wait_follows_retries_to_the_last_attempt() {
    let (host, ids) = host(&[Seed::new("flaky", "system:fail", "manual").retries(2)]);
    let out = host.cli(&["scheduler:run", "--id", "flaky", "--wait", "--format", "json"]);
    out.assert_code(1);
    let details = &out.json()["error"]["details"];
    assert_eq!(details["attempt"], 3);
    assert_eq!(details["trigger"], "retry");
    let history = host.json(&["scheduler:history", "--task", &ids[0]]);
    let attempts: Vec<(i64, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["attempt"].as_i64().unwrap(), row["trigger"].as_str().unwrap()))
        .collect();
    assert_eq!(attempts, [(3, "retry"), (2, "retry"), (1, "manual")]);
}

#[test]
fn run_of_an_unknown_task_is_not_found_and_a_busy_task_is_a_conflict() {
    let (host, _) = host(&[Seed::new("nap", "system:sleep", "manual").data(json!({"ms": 5_000}))]);
    let out = host.cli(&["scheduler:run", "--id", "nosuch", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.json()["error"]["code"], "not_found");
    assert_eq!(out.stderr.trim(), "error: task 'nosuch' not found (no task has this id or name)");
    host.json(&["scheduler:run", "--id", "nap"]);
    let out = host.cli(&["scheduler:run", "--id", "nap", "--wait", "--format", "json"]);
    out.assert_code(1);
    let error = &out.json()["error"];
    assert_eq!(error["code"], "conflict");
    assert_eq!(error["details"]["status"], "skipped");
    assert!(out.stderr.contains("task 'nap' was not run: a run is already running or waiting"), "{}", out.stderr);
}

#[test]
fn run_writes_an_audit_row_naming_the_caller() {
    let (host, ids) = host(&[Seed::new("greet", "system:echo", "manual")]);
    let started = host.json(&["scheduler:run", "--id", "greet"]);
    let db = rusqlite::Connection::open(host.data_dir().join("scheduler.db")).unwrap();
    let (actor, action, task_id, details): (String, String, String, String) = db
        .query_row("SELECT actor, action, task_id, details FROM audit_log ORDER BY id DESC LIMIT 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap();
    assert_eq!((actor.as_str(), action.as_str(), task_id.as_str()), ("cli", "run", ids[0].as_str()));
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["execution_id"], started["execution_id"]);
    assert_eq!(details["wait"], false);
}

// scheduler:history

#[test]
fn history_filters_by_task_status_limit_and_since() {
    let (host, ids) = host(&[
        Seed::new("greet", "system:echo", "manual").data(json!({"message": "hi"})),
        Seed::new("breaks", "system:fail", "manual"),
    ]);
    host.json(&["scheduler:run", "--id", "greet", "--wait"]);
    host.json(&["scheduler:run", "--id", "greet", "--wait"]);
    host.cli(&["scheduler:run", "--id", "breaks", "--wait"]).assert_code(1);

    let all = host.json(&["scheduler:history"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(keys(&all[0]), EXECUTION_FIELDS);
    let ids_desc: Vec<i64> = all.iter().map(|row| row["id"].as_i64().unwrap()).collect();
    assert!(ids_desc.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {ids_desc:?}");
    assert_eq!(all[0]["task_name"], "breaks");

    let greet = host.json(&["scheduler:history", "--task", "greet"]);
    assert_eq!(greet.as_array().unwrap().len(), 2);
    assert!(greet.as_array().unwrap().iter().all(|row| row["task_id"] == ids[0].as_str()));

    let failed = host.json(&["scheduler:history", "--status", "failed"]);
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["task_id"], ids[1].as_str());
    assert_eq!(host.json(&["scheduler:history", "--task", "greet", "--status", "failed"]), json!([]));

    let newest = host.json(&["scheduler:history", "--limit", "1"]);
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(newest[0]["id"], all[0]["id"]);

    let since = all[1]["scheduled_for"].as_str().unwrap();
    let recent = host.json(&["scheduler:history", "--since", since]);
    assert_eq!(recent.as_array().unwrap().len(), 2);
    assert_eq!(host.json(&["scheduler:history", "--since", "2100-01-01T00:00:00Z"]), json!([]));

    let table = host.cli(&["scheduler:history"]);
    table.assert_code(0);
    let header: Vec<&str> = table.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "TASK_NAME",
            "SCHEDULED_FOR",
            "STARTED_AT",
            "DURATION_MS",
            "ATTEMPT",
            "TRIGGER",
            "STATUS",
            "EXIT_CODE",
            "ERROR"
        ]
    );
}

#[test]
fn history_refuses_bad_filters_with_the_rule() {
    let (host, _) = host(&[]);
    let out = host.cli(&["scheduler:history", "--since", "yesterday", "--format", "json"]);
    out.assert_code(2);
    assert_eq!(out.json()["error"]["code"], "invalid_params");
    assert_eq!(
        out.stderr.trim(),
        "error: since must be an RFC 3339 instant with an offset, such as 2027-03-13T00:00:00Z, got 'yesterday'"
    );
    let out = host.cli(&["scheduler:history", "--status", "exploded"]);
    out.assert_code(2);
    assert!(out.stderr.contains("invalid value 'exploded' for '--status <VALUE>'"), "{}", out.stderr);
    let out = host.cli(&["scheduler:history", "--limit", "0"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: limit must be between 1 and 10000, got 0");
    host.cli(&["scheduler:history", "--task", "nosuch"]).assert_code(1);
}

// scheduler:next

fn clock_tasks() -> Vec<Seed> {
    vec![
        Seed::new("hourly", "system:echo", "0 * * * *"),
        Seed::new("half-past", "system:echo", "30 * * * *"),
        Seed::new("quarter", "system:echo", "15 * * * *").paused(),
        Seed::new("by-hand", "system:echo", "manual"),
        Seed::new("berlin", "system:echo", "0 9 * * *").timezone("Europe/Berlin"),
    ]
}

#[test]
fn next_merges_the_upcoming_fire_times_of_active_tasks() {
    let (host, ids) = host(&clock_tasks());
    let next = host.json(&["scheduler:next", "--after", "2030-01-01T00:10:00Z", "--count", "4"]);
    let names: Vec<&str> = next.as_array().unwrap().iter().map(|fire| fire["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["half-past", "hourly", "half-past", "hourly"]);
    assert_eq!(
        ats(&next),
        [
            "2030-01-01T00:30:00+00:00",
            "2030-01-01T01:00:00+00:00",
            "2030-01-01T01:30:00+00:00",
            "2030-01-01T02:00:00+00:00"
        ]
    );
    assert_eq!(
        next[0],
        json!({"at": "2030-01-01T00:30:00+00:00", "utc": "2030-01-01T00:30:00Z", "task_id": ids[1], "name": "half-past"})
    );

    let table = host.cli(&["scheduler:next", "--after", "2030-01-01T00:10:00Z", "--count", "1"]);
    let header: Vec<&str> = table.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["AT", "NAME", "TASK_ID"]);
}

#[test]
fn next_for_one_task_uses_its_time_zone_and_a_paused_task_has_none() {
    let (host, _) = host(&clock_tasks());
    let next = host.json(&["scheduler:next", "--task", "berlin", "--after", "2030-06-01T00:00:00Z", "--count", "2"]);
    assert_eq!(ats(&next), ["2030-06-01T09:00:00+02:00", "2030-06-02T09:00:00+02:00"]);
    assert_eq!(next[0]["utc"], "2030-06-01T07:00:00Z");
    assert_eq!(next[0]["name"], "berlin");
    assert_eq!(host.json(&["scheduler:next", "--task", "quarter"]), json!([]));
    let explained = host.json(&["scheduler:next", "--task", "quarter", "--explain"]);
    assert_eq!(explained["next"], json!([]));
    assert!(explained["explain"].as_str().unwrap().ends_with("the task is paused and does not fire until resumed"));
}

#[test]
fn next_for_an_expression_follows_the_dst_change_and_explains_it() {
    let (host, _) = host(&[]);
    let args = [
        "scheduler:next",
        "--schedule",
        "0 2 * * *",
        "--timezone",
        "America/New_York",
        "--after",
        "2027-03-13T12:00:00Z",
        "--count",
        "3",
    ];
    let next = host.json(&args);
    // 02:00 does not exist on 2027-03-14 in New York: it fires once, at 03:00 EDT.
    assert_eq!(ats(&next), ["2027-03-14T03:00:00-04:00", "2027-03-15T02:00:00-04:00", "2027-03-16T02:00:00-04:00"]);
    assert_eq!(next[0], json!({"at": "2027-03-14T03:00:00-04:00", "utc": "2027-03-14T07:00:00Z"}));

    let explained = host.json(&[&args[..], &["--explain"][..]].concat());
    assert_eq!(keys(&explained), ["explain", "next"]);
    assert_eq!(explained["next"], next);
    let explain = explained["explain"].as_str().unwrap();
    assert!(explain.starts_with("at 02:00 every day in America/New_York"), "{explain}");
    assert!(explain.contains("2027-03-14 02:00 does not exist in America/New_York"), "{explain}");

    let out = host.cli(&["scheduler:next", "--timezone", "Europe/Berlin"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: timezone applies to schedule only; a task fires in its own time zone");
}

// scheduler:stats

#[test]
fn stats_count_runs_and_the_success_rate_overall_and_per_task() {
    let (host, ids) =
        host(&[Seed::new("greet", "system:echo", "manual"), Seed::new("breaks", "system:fail", "manual")]);
    for _ in 0..3 {
        host.json(&["scheduler:run", "--id", "greet", "--wait"]);
    }
    host.cli(&["scheduler:run", "--id", "breaks", "--wait"]).assert_code(1);

    let stats = host.json(&["scheduler:stats"]);
    assert_eq!(keys(&stats), ["overall", "tasks"]);
    let overall = &stats["overall"];
    assert_eq!(
        keys(overall),
        [
            "runs",
            "successes",
            "failures",
            "success_rate",
            "avg_duration_ms",
            "p95_duration_ms",
            "consecutive_failures",
            "last_status",
            "last_run_at"
        ]
    );
    assert_eq!((&overall["runs"], &overall["successes"], &overall["failures"]), (&json!(4), &json!(3), &json!(1)));
    assert_eq!(overall["success_rate"], 0.75);
    assert_eq!(overall["last_status"], "failed");
    assert!(overall["avg_duration_ms"].is_number() && overall["p95_duration_ms"].is_number(), "{overall}");

    let tasks = stats["tasks"].as_array().unwrap();
    let breaks = tasks.iter().find(|task| task["name"] == "breaks").unwrap();
    assert_eq!(breaks["task_id"], ids[1].as_str());
    assert_eq!((&breaks["success_rate"], &breaks["consecutive_failures"]), (&json!(0.0), &json!(1)));

    let greet = host.json(&["scheduler:stats", "--task", "greet"]);
    assert_eq!(keys(&greet)[..2], ["task_id", "name"]);
    assert_eq!(
        (&greet["runs"], &greet["success_rate"], &greet["last_status"]),
        (&json!(3), &json!(1.0), &json!("completed"))
    );
}

// scheduler:validate

#[test]
fn validate_explains_a_valid_schedule_and_lists_its_next_five_fire_times() {
    let (host, _) = host(&[]);
    let out = host.json(&[
        "scheduler:validate",
        "--schedule",
        "daily 02:30",
        "--timezone",
        "Europe/Berlin",
        "--after",
        "2027-03-27T12:00:00Z",
    ]);
    assert_eq!(keys(&out), ["valid", "kind", "expression", "timezone", "explain", "next"]);
    assert_eq!((&out["valid"], &out["kind"], &out["expression"]), (&json!(true), &json!("cron"), &json!("30 2 * * *")));
    assert_eq!(out["timezone"], "Europe/Berlin");
    assert!(out["explain"].as_str().unwrap().starts_with("at 02:30 every day in Europe/Berlin"), "{out}");
    // 02:30 does not exist on 2027-03-28 in Berlin: it fires at 03:00 CEST.
    assert_eq!(ats(&out["next"])[..2], ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]);
    assert_eq!(out["next"].as_array().unwrap().len(), 5);
}

#[test]
fn validate_refuses_an_invalid_schedule_with_exit_2_and_the_rule() {
    let (host, _) = host(&[]);
    let out = host.cli(&["scheduler:validate", "--schedule", "0 2 * * 9", "--format", "json"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: day-of-week must be 0-7, got 9 (field 5 of '0 2 * * 9')");
    let error = &out.json()["error"];
    assert_eq!(error["code"], "invalid_params");
    assert_eq!(error["details"], json!({"field": "schedule", "kind": "schedule::cron_field"}));

    let out =
        host.cli(&["scheduler:validate", "--schedule", "0 2 * * *", "--timezone", "Mars/Olympus", "--format", "json"]);
    out.assert_code(2);
    assert_eq!(out.json()["error"]["details"]["field"], "timezone");
    assert!(out.stderr.contains("unknown time zone 'Mars/Olympus'"), "{}", out.stderr);
}

// scheduler:task-event

/// The `scheduler:task-event` payloads the recorder saw, once `count` arrived.
fn task_events(host: &TestHost, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = host.json(&["recorder:events", "--prefix", "scheduler:task-event"]);
        let events = events.as_array().unwrap();
        if events.len() >= count {
            return events.iter().map(|event| event["payload"].clone()).collect();
        }
        assert!(Instant::now() < deadline, "only {} of {count} task events arrived: {events:?}", events.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn manual_runs_publish_task_events_in_order_with_the_documented_payload() {
    let (host, ids) = host_with(
        &[
            Seed::new("greet", "system:echo", "manual").data(json!({"message": "hi"})),
            Seed::new("breaks", "system:fail", "manual").data(json!({"message": "boom"})),
        ],
        true,
    );
    let done = host.json(&["scheduler:run", "--id", "greet", "--wait"]);
    host.cli(&["scheduler:run", "--id", "breaks", "--wait"]).assert_code(1);
    let events = task_events(&host, 4);
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["name"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("executed", "greet", "running"),
            ("completed", "greet", "completed"),
            ("executed", "breaks", "running"),
            ("failed", "breaks", "failed")
        ]
    );
    for event in &events {
        assert_eq!(
            keys(event),
            [
                "event",
                "task_id",
                "name",
                "tenant",
                "execution_id",
                "scheduled_for",
                "at",
                "attempt",
                "trigger",
                "status",
                "duration_ms",
                "error",
                "retry_at",
                "idempotency_key"
            ]
        );
        assert_eq!(
            (&event["tenant"], &event["trigger"], &event["attempt"]),
            (&json!("default"), &json!("manual"), &json!(1))
        );
        assert_eq!(event["retry_at"], Value::Null);
    }
    // The events and the execution agree on the fields they share.
    let completed = &events[1];
    assert_eq!(completed["task_id"], ids[0].as_str());
    assert_eq!(completed["execution_id"], done["id"]);
    assert_eq!(completed["scheduled_for"], done["scheduled_for"]);
    assert_eq!(completed["duration_ms"], done["duration_ms"]);
    assert_eq!(completed["at"], done["finished_at"]);
    // Rust subscribers decode the payload with the SDK's typed struct.
    let typed: scheduler_api::runs::TaskExecutionEvent = serde_json::from_value(completed.clone()).unwrap();
    assert_eq!((typed.event.as_str(), typed.attempt), ("completed", 1));
    assert_eq!(events[0]["duration_ms"], Value::Null);
    assert_eq!(events[3]["error"], "failed: boom");
    assert!(events[3]["duration_ms"].is_i64());
}
