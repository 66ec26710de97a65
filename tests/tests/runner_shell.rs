//! Scheduled shell jobs through the real binary, the real shell module and real processes:
//! what a job prints reaches `scheduler:logs` with its streams, exits map to outcomes and
//! retries, a timeout or a cancel ends the job's whole process group (checked from
//! `/proc`), output is capped without the host holding it, the child sees its occurrence
//! and not the host's secrets, refused programs are refused at create, `--exec` keeps the
//! intended argv, and a host killed with -9 leaves no job behind once it restarts.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost, peak_rss_kib, process_group, wait_for};
use serde_json::Value;

/// A host with the scheduler and the shell runner, started.
fn host(extra_config: &str) -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into(), "modules/shell".into()],
        extra_config: extra_config.to_owned(),
        ..HostSpec::default()
    });
    host.start();
    host
}

/// Creates a manual task running `exec`, with extra `scheduler:create` arguments.
fn create(host: &TestHost, name: &str, exec: &str, extra: &[&str]) {
    let mut args = vec!["scheduler:create", "--name", name, "--exec", exec, "--schedule", "manual"];
    args.extend_from_slice(extra);
    host.cli(&args).assert_code(0);
}

/// The task's executions, oldest first.
fn history(host: &TestHost, name: &str) -> Vec<Value> {
    let mut executions = host.json(&["scheduler:history", "--task", name]).as_array().unwrap().clone();
    executions.reverse();
    executions
}

/// The task's executions once `done` holds for them.
fn history_when(host: &TestHost, name: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for(what, Duration::from_secs(20), || Some(history(host, name)).filter(|executions| done(executions)))
}

fn ended(execution: &Value) -> bool {
    !matches!(execution["status"].as_str(), Some("queued" | "running"))
}

/// The (stream, line) pairs of an execution's log, system lines left out.
fn logs(host: &TestHost, execution: i64) -> Vec<(String, String)> {
    let out = host.json(&["scheduler:logs", "--execution", &execution.to_string(), "--tail", "10000"]);
    out.as_array()
        .unwrap()
        .iter()
        .map(|line| (line["stream"].as_str().unwrap().to_owned(), line["line"].as_str().unwrap().to_owned()))
        .filter(|(stream, _)| stream != "system")
        .collect()
}

/// The first stdout line of a running execution's log, once it is there: the jobs below
/// print their shell's pid (`$$`), which is their process group id.
fn first_line(host: &TestHost, execution: i64) -> String {
    wait_for("the job to print its pid", Duration::from_secs(10), || {
        logs(host, execution).first().map(|(_, l)| l.clone())
    })
}

fn start(host: &TestHost, name: &str) -> i64 {
    host.json(&["scheduler:run", "--id", name])["execution_id"].as_i64().unwrap()
}

fn assert_group_gone(pgid: u32, limit: Duration) {
    wait_for(&format!("process group {pgid} to be gone"), limit, || process_group(pgid).is_empty().then_some(()));
}

#[test]
fn both_streams_reach_the_log_in_order_with_their_stream() {
    let host = host("");
    let script = "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; echo err-2 >&2";
    create(&host, "streams", &format!("sh -c '{script}'"), &[]);
    host.cli(&["scheduler:run", "--id", "streams", "--wait"]).assert_code(0);
    let execution = history(&host, "streams")[0]["id"].as_i64().unwrap();
    let expected = [("stdout", "out-1"), ("stderr", "err-1"), ("stdout", "out-2"), ("stderr", "err-2")];
    let expected: Vec<(String, String)> = expected.iter().map(|(s, l)| ((*s).to_owned(), (*l).to_owned())).collect();
    assert_eq!(logs(&host, execution), expected);
    let stderr = host.json(&["scheduler:logs", "--task", "streams", "--last", "--stream", "stderr"]);
    let lines: Vec<&str> = stderr.as_array().unwrap().iter().map(|line| line["line"].as_str().unwrap()).collect();
    assert_eq!(lines, ["err-1", "err-2"]);
}

#[test]
fn exit_3_fails_with_the_exit_code_is_retried_by_the_policy_then_stays_failed() {
    let host = host("");
    create(&host, "three", "sh -c 'echo broken >&2; exit 3'", &["--retries", "2", "--retry-delay-ms", "100"]);
    host.cli(&["scheduler:run", "--id", "three", "--wait"]).assert_code(1);
    let executions = history_when(&host, "three", "three ended attempts", |e| e.len() == 3 && e.iter().all(ended));
    for (index, execution) in executions.iter().enumerate() {
        assert_eq!(execution["attempt"], index + 1);
        assert_eq!(execution["status"], "failed");
        assert_eq!(execution["error"], "exit_status: exit code 3: broken");
        assert_eq!(execution["output"]["exit_code"], 3);
        assert_eq!(execution["exit_code"], 3);
    }
    let table = host.cli(&["scheduler:history", "--task", "three"]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].contains("EXIT_CODE") && lines[0].ends_with("ERROR"), "{}", table.stdout);
    assert_eq!(lines.len(), 4, "a header and one line per attempt:\n{}", table.stdout);
    assert!(
        lines[1..].iter().all(|line| line.contains("failed  3          exit_status: exit code 3: broken")),
        "{}",
        table.stdout
    );
}

#[test]
fn an_exit_code_the_task_lists_as_permanent_is_not_retried() {
    let host = host("");
    create(&host, "usage", "sh -c 'exit 64'", &["--retries", "3", "--data", r#"{"permanent_exit_codes": [64]}"#]);
    host.cli(&["scheduler:run", "--id", "usage", "--wait"]).assert_code(1);
    // A retry is written with the failure, in one transaction: none now means none ever.
    let executions = history(&host, "usage");
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0]["status"], "failed");
    assert_eq!(executions[0]["error"], "exit_status: exit code 64");
}

#[test]
fn a_program_that_cannot_start_fails_once_with_the_reason() {
    let host = host("");
    let cwd = tempfile::tempdir().unwrap();
    let shown = cwd.path().display().to_string();
    let data = serde_json::json!({ "cwd": shown }).to_string();
    create(&host, "no-cwd", "true", &["--retries", "3", "--data", &data]);
    // The working directory vanishes between create and run: the run cannot start.
    drop(cwd);
    host.cli(&["scheduler:run", "--id", "no-cwd", "--wait"]).assert_code(1);
    let executions = history(&host, "no-cwd");
    assert_eq!(executions.len(), 1, "not retried: {executions:?}");
    assert_eq!(executions[0]["status"], "failed");
    let error = executions[0]["error"].as_str().unwrap();
    assert!(error.starts_with("spawn_failed: ") && error.contains(&shown), "{error}");
    // A program that is not there at all is refused before anything is written.
    let out = host.cli(&["scheduler:create", "--name", "missing", "--exec", "never-here-program", "--schedule", "5m"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("never-here-program"), "{}", out.stderr);
}

#[test]
fn a_job_that_overruns_its_timeout_is_ended_with_its_grandchild() {
    let host = host("modules:\n  shell:\n    killGrace: 500\n");
    // The job and its grandchild ignore SIGTERM, so only the SIGKILL after killGrace ends them.
    let script = "trap \"\" TERM; sleep 1000 & echo $$; wait";
    create(&host, "overrun", &format!("sh -c '{script}'"), &["--timeout-ms", "1000", "--retries", "0"]);
    let started = Instant::now();
    let execution = start(&host, "overrun");
    let pgid: u32 = first_line(&host, execution).parse().unwrap();
    assert!(process_group(pgid).len() >= 2, "the job and its grandchild run: {:?}", process_group(pgid));
    let executions = history_when(&host, "overrun", "the timeout", |e| e.first().is_some_and(ended));
    assert_eq!(executions[0]["status"], "timeout");
    // Timeout 1 s + killGrace 0.5 s + 1 s.
    assert_group_gone(pgid, Duration::from_millis(2500).saturating_sub(started.elapsed()));
}

#[test]
fn cancelling_a_running_job_records_cancelled_and_ends_its_group() {
    let host = host("");
    create(&host, "long", "sh -c 'echo $$; sleep 1000'", &["--retries", "3"]);
    let execution = start(&host, "long");
    let pgid: u32 = first_line(&host, execution).parse().unwrap();
    host.cli(&["scheduler:cancel", "--execution", &execution.to_string()]).assert_code(0);
    let executions = history_when(&host, "long", "the cancel", |e| e.first().is_some_and(ended));
    assert_eq!(executions.len(), 1, "a cancel is not retried");
    assert_eq!(executions[0]["status"], "cancelled");
    // SIGTERM ends `sleep` at once; killGrace (5 s) bounds it anyway.
    assert_group_gone(pgid, Duration::from_secs(6));
}

#[test]
fn twenty_mib_of_output_is_capped_marked_truncated_and_not_held_by_the_host() {
    let host = host("");
    let pid = host.pid().unwrap();
    let line = "0123456789abcdef".repeat(62);
    create(&host, "loud", &format!("sh -c 'yes {line} | head -c 20971520'"), &[]);
    host.cli(&["scheduler:run", "--id", "loud", "--wait"]).assert_code(0);
    let execution = &history(&host, "loud")[0];
    assert_eq!(execution["output"]["stdout_bytes"], 20_971_520, "every byte was read");
    assert_eq!(execution["output"]["truncated"], true);
    let kept: usize = logs(&host, execution["id"].as_i64().unwrap()).iter().map(|(_, line)| line.len() + 1).sum();
    assert!(kept <= 1_048_576, "kept {kept} bytes, maxOutputBytes is 1 MiB");
    assert!(kept >= 1_048_576 - 2 * (line.len() + 1), "kept {kept} bytes: the cap, not less");
    let system = host.json(&["scheduler:logs", "--task", "loud", "--last", "--stream", "system"]);
    assert!(system.to_string().contains("output truncated:"), "{system}");
    // A host that held a job's output would need 64 MiB more for this run than for the last;
    // the allowance covers allocator noise (thread arenas), which is a few MiB either way.
    let before = peak_rss_kib(pid);
    create(&host, "louder", &format!("sh -c 'yes {line} | head -c 67108864'"), &[]);
    host.cli(&["scheduler:run", "--id", "louder", "--wait"]).assert_code(0);
    assert_eq!(history(&host, "louder")[0]["output"]["stdout_bytes"], 67_108_864);
    let grown = peak_rss_kib(pid).saturating_sub(before);
    assert!(grown < 24 * 1024, "the host's peak RSS grew by {grown} KiB for 64 MiB of output");
}

#[test]
fn the_job_sees_its_occurrence_and_not_the_hosts_secret() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into(), "modules/shell".into()],
        ..HostSpec::default()
    });
    host.start_with_env(&[("RUNNER_TEST_SECRET", "hunter2")]);
    create(&host, "env", "env", &[]);
    host.cli(&["scheduler:run", "--id", "env", "--wait"]).assert_code(0);
    let execution = &history(&host, "env")[0];
    let lines: Vec<String> = logs(&host, execution["id"].as_i64().unwrap()).into_iter().map(|(_, line)| line).collect();
    let key = format!(
        "SYSTEMPROMPT_IDEMPOTENCY_KEY={}:{}",
        execution["task_id"].as_str().unwrap(),
        execution["scheduled_for"].as_str().unwrap()
    );
    assert!(lines.contains(&key), "{key} not in {lines:?}");
    assert!(lines.contains(&format!("SYSTEMPROMPT_EXECUTION_ID={}", execution["id"])), "{lines:?}");
    assert!(lines.contains(&"SYSTEMPROMPT_TRIGGER=manual".to_owned()), "{lines:?}");
    assert!(lines.iter().all(|line| !line.contains("hunter2")), "{lines:?}");
}

#[test]
fn a_denied_program_is_refused_at_create_and_nothing_is_written() {
    let host = host("modules:\n  shell:\n    deniedPrograms: [rm, '**/chmod']\n");
    for exec in ["rm -rf /tmp/nothing", "/bin/chmod 777 /tmp"] {
        let out = host.cli(&["scheduler:create", "--name", "bad", "--exec", exec, "--schedule", "5m"]);
        assert_ne!(out.code, 0, "{exec}");
        assert!(out.stderr.contains("deniedPrograms"), "{exec}: {}", out.stderr);
    }
    assert_eq!(host.json(&["scheduler:list"]), serde_json::json!([]));
    let out = host.cli(&["scheduler:create", "--name", "bad", "--exec", "sh -c 'echo $(id)'", "--schedule", "5m"]);
    out.assert_code(0);
}

#[test]
fn exec_with_quotes_and_spaces_reaches_the_program_as_the_intended_argv() {
    let host = host("");
    create(&host, "argv", r#"printf '%s\n' 'a b' "c 'd'" e\ f '$(id)' ';' '*'"#, &[]);
    host.cli(&["scheduler:run", "--id", "argv", "--wait"]).assert_code(0);
    let execution = history(&host, "argv")[0]["id"].as_i64().unwrap();
    let lines: Vec<String> = logs(&host, execution).into_iter().map(|(_, line)| line).collect();
    assert_eq!(lines, ["a b", "c 'd'", "e f", "$(id)", ";", "*"]);
}

#[test]
fn after_a_kill_9_of_the_host_its_jobs_are_interrupted_retried_and_their_groups_gone() {
    let mut host = host("");
    // The first attempt hangs; the retry after the restart ends at once.
    let script = "if [ \"$SYSTEMPROMPT_ATTEMPT\" = 1 ]; then echo $$; exec sleep 1000; fi; echo retried";
    create(&host, "orphan", &format!("sh -c '{script}'"), &["--retries", "1", "--retry-delay-ms", "0"]);
    let execution = start(&host, "orphan");
    let pgid: u32 = first_line(&host, execution).parse().unwrap();
    host.kill();
    assert!(!process_group(pgid).is_empty(), "the job outlives a kill -9 of its host");
    host.start();
    assert_group_gone(pgid, Duration::from_secs(10));
    let executions = history_when(&host, "orphan", "the retry", |e| e.len() == 2 && e.iter().all(ended));
    assert_eq!(executions[0]["status"], "interrupted");
    assert_eq!(executions[1]["status"], "completed");
    assert_eq!(executions[1]["attempt"], 2);
    let retried = logs(&host, executions[1]["id"].as_i64().unwrap());
    assert_eq!(retried, [("stdout".to_owned(), "retried".to_owned())]);
}
