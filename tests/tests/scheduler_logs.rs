//! Execution logs through the real binary: lines fed with `scheduler:append-logs` (the
//! shell runner is not part of this branch) read back with `scheduler:logs` in order, by
//! stream, tailed and followed; and `scheduler:run --wait` streaming its run (the CLI's
//! follow protocol).

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};
use serde_json::{Value, json};

fn host() -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".to_owned(), "modules/scheduler".to_owned()],
        ..HostSpec::default()
    });
    host.start();
    host
}

/// Creates a manual task running `system:sleep` for `ms`.
fn sleeper(host: &TestHost, name: &str, ms: u64) {
    let data = json!({ "ms": ms }).to_string();
    host.cli(&[
        "scheduler:create",
        "--name",
        name,
        "--command",
        "system:sleep",
        "--schedule",
        "manual",
        "--data",
        &data,
    ])
    .assert_code(0);
}

/// Starts a run without waiting; its execution id.
fn start(host: &TestHost, name: &str) -> i64 {
    host.json(&["scheduler:run", "--id", name])["execution_id"].as_i64().unwrap()
}

fn append(host: &TestHost, execution: i64, lines: &[(&str, &str)]) {
    let lines: Vec<Value> = lines.iter().map(|(stream, line)| json!({"stream": stream, "line": line})).collect();
    let out = host.json(&[
        "scheduler:append-logs",
        "--execution-id",
        &execution.to_string(),
        "--lines",
        &Value::Array(lines.clone()).to_string(),
    ]);
    assert_eq!(out["appended"], lines.len());
}

fn lines_of(values: &Value) -> Vec<(String, String)> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|line| (line["stream"].as_str().unwrap().to_owned(), line["line"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(stream, line)| ((*stream).to_owned(), (*line).to_owned())).collect()
}

/// Spawns the CLI with piped output; its stdout lines arrive on the channel.
fn spawn(host: &TestHost, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = host.cli_command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (child, receiver)
}

/// Waits for the child to exit, at most `limit`; its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (i32, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        assert!(Instant::now() < deadline, "the CLI did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn appended_lines_are_shown_in_order_with_their_streams_by_stream_and_tailed() {
    let host = host();
    sleeper(&host, "talker", 10);
    let execution = start(&host, "talker");
    append(&host, execution, &[("stdout", "one"), ("stderr", "two")]);
    append(&host, execution, &[("stdout", "three"), ("system", "exit 0")]);
    let id = execution.to_string();

    let all = host.json(&["scheduler:logs", "--execution", &id]);
    assert_eq!(
        lines_of(&all),
        pairs(&[("stdout", "one"), ("stderr", "two"), ("stdout", "three"), ("system", "exit 0")])
    );
    assert!(all.as_array().unwrap().iter().all(|line| line["execution_id"] == execution && line["at"].is_string()));

    let stdout = host.json(&["scheduler:logs", "--execution", &id, "--stream", "stdout"]);
    assert_eq!(lines_of(&stdout), pairs(&[("stdout", "one"), ("stdout", "three")]));
    let tail = host.json(&["scheduler:logs", "--execution", &id, "--tail", "2"]);
    assert_eq!(lines_of(&tail), pairs(&[("stdout", "three"), ("system", "exit 0")]));
    let last = host.json(&["scheduler:logs", "--task", "talker", "--last"]);
    assert_eq!(last, all, "--task --last reads the task's latest execution");

    let table = host.cli(&["scheduler:logs", "--execution", &id]);
    table.assert_code(0);
    let header = table.stdout.lines().next().unwrap();
    assert!(header.starts_with("AT") && header.contains("STREAM") && header.contains("LINE"), "{}", table.stdout);
    assert!(table.stdout.contains("stderr  two"), "{}", table.stdout);
}

#[test]
fn lines_for_an_unknown_execution_are_refused_and_its_log_is_not_found() {
    let host = host();
    let out =
        host.cli(&["scheduler:append-logs", "--execution-id", "999", "--lines", r#"[{"stream":"stdout","line":"x"}]"#]);
    out.assert_code(1);
    assert!(out.stderr.contains("execution 999 not found"), "{}", out.stderr);
    host.cli(&["scheduler:logs", "--execution", "999"]).assert_code(1);
    host.cli(&["scheduler:logs"]).assert_code(2);
}

#[test]
fn follow_prints_lines_as_they_arrive_and_ends_when_the_execution_has_ended() {
    let host = host();
    sleeper(&host, "slow-talker", 2_000);
    let execution = start(&host, "slow-talker");
    let id = execution.to_string();
    append(&host, execution, &[("stdout", "before")]);
    let (child, lines) = spawn(&host, &["scheduler:logs", "--execution", &id, "--follow", "--format", "json"]);
    let first: Value = serde_json::from_str(&lines.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(first["line"], "before");
    append(&host, execution, &[("stderr", "during")]);
    let second: Value = serde_json::from_str(&lines.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!((second["stream"].as_str(), second["line"].as_str()), (Some("stderr"), Some("during")));
    let (code, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
    let history = host.json(&["scheduler:history", "--task", "slow-talker"]);
    assert_eq!(history[0]["status"], "completed", "the follow ended after the execution did");
}

#[test]
fn run_wait_prints_the_execution_id_at_once_and_exits_with_the_outcome() {
    let host = host();
    sleeper(&host, "nap", 2_000);
    let started = Instant::now();
    let (child, lines) = spawn(&host, &["scheduler:run", "--id", "nap", "--wait", "--format", "json"]);
    let first: Value = serde_json::from_str(&lines.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert!(started.elapsed() < Duration::from_millis(1_900), "the id came after the run: {:?}", started.elapsed());
    let execution = first["execution_id"].as_i64().unwrap();
    assert_eq!(first["stream"], "system");
    assert!(first["line"].as_str().unwrap().contains(&format!("execution {execution}")), "{first}");
    let (code, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
    let result: Value = serde_json::from_str(&lines.recv_timeout(Duration::from_secs(1)).unwrap()).unwrap();
    assert_eq!((result["id"].as_i64(), result["status"].as_str()), (Some(execution), Some("completed")));

    host.cli(&[
        "scheduler:create",
        "--name",
        "breaks",
        "--command",
        "system:fail",
        "--schedule",
        "manual",
        "--retries",
        "0",
    ])
    .assert_code(0);
    let failed = host.cli(&["scheduler:run", "--id", "breaks", "--wait"]);
    failed.assert_code(1);
    assert!(failed.stdout.contains("started (attempt 1)"), "{}", failed.stdout);
}

#[test]
fn ctrl_c_while_waiting_says_the_run_goes_on_and_exits_130() {
    let host = host();
    sleeper(&host, "long-nap", 10_000);
    let (child, lines) = spawn(&host, &["scheduler:run", "--id", "long-nap", "--wait"]);
    let first = lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(first.contains("started (attempt 1)"), "{first}");
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let (code, stderr) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("stopped waiting") && stderr.contains("goes on"), "{stderr}");
    assert!(stderr.contains("scheduler:logs --execution"), "{stderr}");
    let history = host.json(&["scheduler:history", "--task", "long-nap"]);
    assert_eq!(history[0]["status"], "running", "the run goes on");
}

#[test]
fn run_wait_follows_a_retry_into_the_next_attempt_and_exits_1_when_the_last_fails() {
    let host = host();
    host.cli(&[
        "scheduler:create",
        "--name",
        "flaky",
        "--command",
        "system:fail",
        "--schedule",
        "manual",
        "--retries",
        "1",
        "--retry-delay-ms",
        "100",
    ])
    .assert_code(0);
    let out = host.cli(&["scheduler:run", "--id", "flaky", "--wait", "--format", "json"]);
    out.assert_code(1);
    let values = out.json_values();
    let lines: Vec<&str> = values.iter().filter_map(|value| value["line"].as_str()).collect();
    assert!(lines[0].contains("started (attempt 1)"), "{lines:?}");
    assert!(lines.iter().any(|line| line.contains("attempt 2 follows as execution")), "{lines:?}");
    let error = &values.last().unwrap()["error"];
    assert!(error["message"].as_str().unwrap().contains("(attempt 2)"), "{error}");
}
