//! In-process tests of the shell module against the SDK's fake host, with real processes.
//! The fake host answers `scheduler:append-logs` by recording the lines; a test calls
//! `shell:run` as the scheduler's engine does (`ModuleTest::call_for` with an occurrence).
//! Process groups are checked from `/proc`, polling with a deadline.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scheduler_api::logs::{AppendLogsParams, AppendedLogs, LogStream};
use serde_json::{Value, json};
use shell_api::RunOutput;
use systemprompt_module_sdk::manifest::Manifest;
use systemprompt_module_sdk::testing::{FakeHost, ModuleTest};
use systemprompt_module_sdk::{CommandError, Occurrence};

use crate::config::ShellConfig;
use crate::{Shell, group, records};

const LONG: Duration = Duration::from_secs(30);

type Lines = Arc<Mutex<Vec<(LogStream, String)>>>;

fn config() -> Value {
    json!({
        "path": "/usr/local/bin:/usr/bin:/bin",
        "allowedPrograms": [],
        "deniedPrograms": [],
        "allowScripts": false,
        "killGrace": 300,
        "maxOutputBytes": 1_048_576,
        "maxLineBytes": 16_384,
        "tailLines": 10,
    })
}

fn with(overrides: Value) -> Value {
    let mut config = config();
    for (key, value) in overrides.as_object().expect("an object") {
        config[key] = value.clone();
    }
    config
}

/// The module, with a fake scheduler recording the log lines it is sent.
fn module(config: Value) -> (ModuleTest<Shell>, Lines) {
    let lines: Lines = Arc::default();
    let host = FakeHost::default();
    let sink = lines.clone();
    host.on("scheduler:append-logs", move |params| {
        let params: AppendLogsParams = serde_json::from_value(params).expect("append-logs params");
        assert_eq!(params.execution_id, 42);
        let appended = params.lines.len() as u64;
        sink.lock().unwrap().extend(params.lines.into_iter().map(|line| (line.stream, line.line)));
        Ok(serde_json::to_value(AppendedLogs { appended }).unwrap())
    });
    let test = ModuleTest::with_host(config, host).unwrap();
    test.start().unwrap();
    (test, lines)
}

fn occurrence() -> Occurrence {
    Occurrence {
        task_id: "t-1".into(),
        task_name: "nightly".into(),
        tenant: "default".into(),
        execution_id: 42,
        scheduled_for: "2027-01-05T02:00:00Z".into(),
        attempt: 1,
        trigger: "schedule".into(),
        idempotency_key: Occurrence::key_of("t-1", "2027-01-05T02:00:00Z"),
    }
}

async fn run(test: &ModuleTest<Shell>, data: Value, timeout: Duration) -> Result<RunOutput, CommandError> {
    let value = test.call_for("shell:run", &data, timeout, Some(&occurrence())).await?;
    Ok(serde_json::from_value(value).unwrap())
}

fn of(lines: &Lines, stream: LogStream) -> Vec<String> {
    lines.lock().unwrap().iter().filter(|(s, _)| *s == stream).map(|(_, line)| line.clone()).collect()
}

/// Polls `done` until it holds or `within` passes.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

#[test]
fn the_config_in_module_yaml_is_the_default_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("module.yaml");
    let manifest = Manifest::parse("module.yaml", &std::fs::read_to_string(path).unwrap()).unwrap();
    let config: ShellConfig = serde_json::from_value(manifest.config.clone()).unwrap();
    assert_eq!(config, ShellConfig::default());
    let commands: Vec<String> = manifest.command_names().collect();
    assert_eq!(commands, ["shell:run", "shell:check-task"]);
}

#[tokio::test]
async fn lines_of_both_streams_reach_the_log_in_order_with_their_streams_before_the_reply() {
    let (test, lines) = module(config());
    let script = "echo out1; echo err1 >&2; echo out2; printf 'err2' >&2";
    let out = run(&test, json!({"program": "sh", "args": ["-c", script]}), LONG).await.unwrap();
    assert_eq!((out.exit_code, out.stdout_bytes, out.stderr_bytes), (Some(0), 10, 9));
    assert!(!out.truncated);
    assert_eq!(out.stdout_tail, None, "a scheduled execution's output is in its log, not in its result");
    assert_eq!(of(&lines, LogStream::Stdout), ["out1", "out2"]);
    assert_eq!(of(&lines, LogStream::Stderr), ["err1", "err2"]);
    assert!(of(&lines, LogStream::System).is_empty(), "the exit status is the execution's, not a log line");
}

#[tokio::test]
async fn exit_3_fails_with_the_exit_code_and_the_last_stderr_lines_and_is_retryable() {
    let (test, _lines) = module(config());
    let script = "echo doing it; echo disk full >&2; exit 3";
    let error = run(&test, json!({"program": "/bin/sh", "args": ["-c", script]}), LONG).await.unwrap_err();
    assert_eq!(error.code, "exit_status");
    assert_eq!(error.message, "exit code 3: disk full");
    assert_eq!(error.details.as_ref().unwrap()["exit_code"], 3);
    assert!(!error.is_permanent());
}

#[tokio::test]
async fn the_error_names_the_last_stderr_lines_whether_they_were_logged_or_dropped_past_the_cap() {
    // 40 bytes of log: the first lines are logged (tails taken from the batch), the rest
    // are dropped past the cap (tails taken as they come); the message has the newest.
    let (test, lines) = module(with(json!({"maxOutputBytes": 40})));
    let script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i >&2; done; exit 3";
    let error = run(&test, json!({"program": "/bin/sh", "args": ["-c", script]}), LONG).await.unwrap_err();
    assert_eq!(error.message, "exit code 3: line10 | line11 | line12");
    assert_eq!(of(&lines, LogStream::Stderr), ["line1", "line2", "line3", "line4", "line5", "line6"]);
    let (test, _lines) = module(config());
    let script = "echo a >&2; echo b >&2; echo c >&2; echo d >&2; exit 3";
    let error = run(&test, json!({"program": "/bin/sh", "args": ["-c", script]}), LONG).await.unwrap_err();
    assert_eq!(error.message, "exit code 3: b | c | d", "all logged, none dropped");
}

#[tokio::test]
async fn an_exit_code_the_task_lists_as_permanent_is_not_retried() {
    let (test, _lines) = module(config());
    let data = json!({"program": "sh", "args": ["-c", "exit 64"], "permanent_exit_codes": [2, 64]});
    let error = run(&test, data, LONG).await.unwrap_err();
    assert_eq!((error.code.as_str(), error.message.as_str()), ("exit_status", "exit code 64"));
    assert!(error.is_permanent());
}

#[tokio::test]
async fn a_program_that_cannot_start_fails_permanently_with_the_reason() {
    let (test, _lines) = module(config());
    let error = run(&test, json!({"program": "no-such-program-here"}), LONG).await.unwrap_err();
    assert_eq!(error.code, "spawn_failed");
    assert!(error.message.contains("not found on PATH"), "{}", error.message);
    assert!(error.is_permanent());

    let error = run(&test, json!({"program": "true", "cwd": "/no/such/dir"}), LONG).await.unwrap_err();
    assert_eq!(error.code, "spawn_failed");
    assert!(error.message.contains("/no/such/dir"), "{}", error.message);
    assert!(error.is_permanent());

    let error = run(&test, json!({"program": "/etc/hostname"}), LONG).await.unwrap_err();
    assert_eq!(error.code, "spawn_failed", "{error:?}");
    assert!(error.is_permanent());
}

#[tokio::test]
async fn a_job_overrunning_its_deadline_is_killed_with_its_grandchild_even_when_it_ignores_sigterm() {
    let (test, lines) = module(config());
    // The shell and its background sleep both ignore SIGTERM (an ignored signal survives
    // exec), so only the SIGKILL after killGrace ends them.
    let script = "trap '' TERM; sleep 1000 & echo $$; wait";
    let started = Instant::now();
    let error =
        run(&test, json!({"program": "sh", "args": ["-c", script]}), Duration::from_millis(500)).await.unwrap_err();
    assert_eq!(error.code, "timeout");
    let pgid: i32 = of(&lines, LogStream::Stdout)[0].parse().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || group::members(pgid).is_empty()).await,
        "the group outlived the job"
    );
    assert!(started.elapsed() >= Duration::from_millis(800), "SIGKILL came before killGrace");
    // The handler sent its last lines after the kill.
    assert!(
        eventually(Duration::from_secs(10), || of(&lines, LogStream::System)
            .iter()
            .any(|l| l.starts_with("cancelled")))
        .await
    );
}

#[tokio::test]
async fn a_leader_that_exits_leaving_a_background_child_has_its_group_ended_before_the_reply() {
    let (test, _lines) = module(config());
    let marker = format!("MARKER={}", uuid::Uuid::new_v4());
    let (name, value) = marker.split_once('=').unwrap();
    let data = json!({"program": "sh", "args": ["-c", "sleep 1000 & echo started"], "env": {name: value}});
    let out = run(&test, data, LONG).await.unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert!(out.killed);
    // No polling: the reply comes only once the group is gone. Look for the sleep by the
    // marker its environment carries.
    let sleeping = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| group::environ_has(pid, &marker))
        .filter(|&pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")))
        .count();
    assert_eq!(sleeping, 0);
}

#[tokio::test]
async fn twenty_mib_of_output_is_capped_marked_truncated_and_does_not_grow_memory_by_as_much() {
    let (test, lines) = module(config());
    let rss_before = rss_bytes();
    let script = "yes abcdefghijklmnopqrstuvwxyz0123456789 | head -c 20971520";
    let out = run(&test, json!({"program": "sh", "args": ["-c", script]}), LONG).await.unwrap();
    assert_eq!(out.stdout_bytes, 20_971_520);
    assert!(out.truncated);
    let kept: usize = of(&lines, LogStream::Stdout).iter().map(|line| line.len() + 1).sum();
    assert!(kept <= 1_048_576 && kept > 1_000_000, "kept {kept} bytes");
    // Each line counts one byte for its break; the last, cut by head, has none.
    assert!(out.dropped_bytes.abs_diff(20_971_520 - kept as u64) <= 1, "dropped {}", out.dropped_bytes);
    let system = of(&lines, LogStream::System);
    assert!(system.iter().any(|line| line.starts_with("output truncated:")), "{system:?}");
    let growth = rss_bytes().saturating_sub(rss_before);
    assert!(growth < 12 * 1024 * 1024, "RSS grew by {growth} bytes");
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn the_child_sees_the_occurrence_and_its_task_env_and_nothing_else_of_the_hosts_environment() {
    let (test, lines) = module(config());
    let host_only: Vec<String> = std::env::vars()
        .map(|(name, _)| name)
        .filter(|name| !["PATH", "HOME", "LANG", "TZ"].contains(&name.as_str()))
        .collect();
    assert!(!host_only.is_empty(), "the test process has variables of its own to leak");
    run(&test, json!({"program": "env", "env": {"MY_SETTING": "a b"}}), LONG).await.unwrap();
    let env = of(&lines, LogStream::Stdout);
    assert!(env.contains(&"SYSTEMPROMPT_IDEMPOTENCY_KEY=t-1:2027-01-05T02:00:00Z".to_owned()), "{env:?}");
    assert!(env.contains(&"SYSTEMPROMPT_ATTEMPT=1".to_owned()));
    assert!(env.contains(&"MY_SETTING=a b".to_owned()));
    assert!(env.contains(&"PATH=/usr/local/bin:/usr/bin:/bin".to_owned()));
    let mut names: Vec<&str> = env.iter().map(|line| line.split_once('=').unwrap().0).collect();
    names.sort_unstable();
    let mut expected = vec![
        "HOME",
        "LANG",
        "MY_SETTING",
        "PATH",
        "SYSTEMPROMPT_ATTEMPT",
        "SYSTEMPROMPT_EXECUTION_ID",
        "SYSTEMPROMPT_IDEMPOTENCY_KEY",
        "SYSTEMPROMPT_RUN_ID",
        "SYSTEMPROMPT_SCHEDULED_FOR",
        "SYSTEMPROMPT_TASK_ID",
        "SYSTEMPROMPT_TASK_NAME",
        "SYSTEMPROMPT_TRIGGER",
    ];
    if std::env::var_os("TZ").is_some() {
        expected.push("TZ");
        expected.sort_unstable();
    }
    assert_eq!(names, expected);
    assert!(host_only.iter().all(|name| !names.contains(&name.as_str())));
}

#[tokio::test]
async fn a_task_cannot_set_the_reserved_variables() {
    let (test, _lines) = module(config());
    let data = json!({"program": "env", "env": {"SYSTEMPROMPT_EXECUTION_ID": "7"}});
    let error = run(&test, data, LONG).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
    assert!(error.message.contains("reserved"), "{}", error.message);
}

#[tokio::test]
async fn a_denied_program_is_refused_by_check_task_and_by_run_under_any_of_its_names() {
    let (test, _lines) = module(with(json!({"deniedPrograms": ["/bin/sh"]})));
    for program in ["sh", "/usr/bin/sh", "dash"] {
        let check = json!({"command": "shell:run", "data": {"program": program, "args": ["-c", "true"]}});
        let error = test.call_json("shell:check-task", &check, LONG).await.unwrap_err();
        assert_eq!(error.code, "invalid_params");
        assert!(error.message.contains("deniedPrograms pattern '/bin/sh'"), "{}", error.message);
        let error = run(&test, json!({"program": program, "args": ["-c", "true"]}), LONG).await.unwrap_err();
        assert_eq!(error.code, "invalid_params");
        assert!(error.is_permanent());
    }
    let check = json!({"command": "shell:run", "data": {"program": "true"}});
    let out = test.call_json("shell:check-task", &check, LONG).await.unwrap();
    assert_eq!(out["program"], "/usr/bin/true");
}

#[tokio::test]
async fn only_allowed_programs_run_when_the_allowed_list_is_set() {
    let (test, _lines) = module(with(json!({"allowedPrograms": ["/usr/bin/echo", "tru?"]})));
    run(&test, json!({"program": "echo", "args": ["hi"]}), LONG).await.unwrap();
    run(&test, json!({"program": "true"}), LONG).await.unwrap();
    let error = run(&test, json!({"program": "cat"}), LONG).await.unwrap_err();
    assert!(error.message.contains("matches none of allowedPrograms"), "{}", error.message);
    let check = json!({"command": "shell:run", "data": {"program": "cat"}});
    let error = test.call_json("shell:check-task", &check, LONG).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
}

#[tokio::test]
async fn check_task_refuses_bad_data_with_the_rule() {
    let (test, _lines) = module(config());
    let cases = [
        (json!({"args": ["x"]}), "give a program"),
        (json!({"program": "true", "script": "true"}), "not both"),
        (json!({"program": "true", "argv": []}), "unknown field `argv`"),
        (json!({"program": "true", "cwd": "relative"}), "absolute"),
        (json!({"script": "echo hi"}), "scripts are disabled"),
        (json!({"program": "true", "limits": {"nice": 40}}), "between 0 and 19"),
    ];
    for (data, rule) in cases {
        let check = json!({"command": "shell:run", "data": data});
        let error = test.call_json("shell:check-task", &check, LONG).await.unwrap_err();
        assert_eq!(error.code, "invalid_params", "{data}");
        assert!(error.message.contains(rule), "{data}: {}", error.message);
    }
}

#[tokio::test]
async fn a_script_runs_through_sh_only_when_scripts_are_allowed() {
    let (test, _lines) = module(config());
    let error = run(&test, json!({"script": "echo $((1 + 2))"}), LONG).await.unwrap_err();
    assert!(error.message.contains("scripts are disabled"), "{}", error.message);
    let (test, lines) = module(with(json!({"allowScripts": true})));
    run(&test, json!({"script": "echo $((1 + 2))"}), LONG).await.unwrap();
    assert_eq!(of(&lines, LogStream::Stdout), ["3"]);
}

#[tokio::test]
async fn arguments_reach_the_program_as_given_without_a_shell() {
    let (test, lines) = module(config());
    let args = ["$(id)", "a b", "'quoted'", ";", "*"];
    run(&test, json!({"program": "printf", "args": ["%s\\n", args[0], args[1], args[2], args[3], args[4]]}), LONG)
        .await
        .unwrap();
    assert_eq!(of(&lines, LogStream::Stdout), args);
}

#[tokio::test]
async fn a_run_by_hand_sends_no_log_and_answers_with_the_tails() {
    let (test, lines) = module(config());
    let data = json!({"program": "sh", "args": ["-c", "echo one; echo two; echo oops >&2"], "stdin": "ignored"});
    let value = test.call_json("shell:run", &data, LONG).await.unwrap();
    let out: RunOutput = serde_json::from_value(value).unwrap();
    assert_eq!(out.stdout_tail, Some(vec!["one".to_owned(), "two".to_owned()]));
    assert_eq!(out.stderr_tail, Some(vec!["oops".to_owned()]));
    assert!(lines.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stdin_reaches_the_program() {
    let (test, lines) = module(config());
    run(&test, json!({"program": "cat", "stdin": "line 1\nline 2\n"}), LONG).await.unwrap();
    assert_eq!(of(&lines, LogStream::Stdout), ["line 1", "line 2"]);
}

#[tokio::test]
async fn the_memory_and_nice_limits_apply_to_the_child() {
    let (test, lines) = module(config());
    let data =
        json!({"program": "sh", "args": ["-c", "ulimit -v; nice"], "limits": {"memory_bytes": 512_000_000, "nice": 5}});
    run(&test, data, LONG).await.unwrap();
    assert_eq!(of(&lines, LogStream::Stdout), ["500000", "5"]);
}

#[tokio::test]
async fn run_as_drops_privileges_when_the_host_is_root_and_is_refused_otherwise() {
    let (test, lines) = module(config());
    let data = json!({"program": "id", "args": ["-u"], "cwd": "/", "run_as": {"user": "nobody"}});
    let result = run(&test, data, LONG).await;
    if rustix::process::geteuid().is_root() {
        result.unwrap();
        assert_eq!(of(&lines, LogStream::Stdout), ["65534"]);
    } else {
        let error = result.unwrap_err();
        assert!(error.message.contains("needs the host to run as root"), "{}", error.message);
        assert!(error.is_permanent());
    }
}

#[tokio::test]
async fn a_long_line_arrives_split_and_invalid_utf8_is_replaced() {
    let (test, lines) = module(with(json!({"maxLineBytes": 4})));
    run(&test, json!({"program": "printf", "args": ["abcdefghij\\n\\377x\\n"]}), LONG).await.unwrap();
    assert_eq!(of(&lines, LogStream::Stdout), ["abcd", "efgh", "ij", "\u{fffd}x"]);
}

#[tokio::test]
async fn processes_a_dead_host_left_behind_are_killed_at_start_and_strangers_are_not() {
    use std::os::unix::process::CommandExt;
    let orphan_marker = uuid::Uuid::new_v4().to_string();
    let mut orphan = std::process::Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .env(records::RUN_ID_VAR, &orphan_marker)
        .spawn()
        .unwrap();
    // A process whose group id a record names but which lacks the record's marker: a
    // reused pgid, someone else's.
    let mut stranger = std::process::Command::new("sleep").arg("1000").process_group(0).spawn().unwrap();

    let test = ModuleTest::<Shell>::new(config()).unwrap();
    records::plant(&test.module().records, &orphan_marker, orphan.id() as i32);
    records::plant(&test.module().records, &uuid::Uuid::new_v4().to_string(), stranger.id() as i32);
    test.start().unwrap();

    assert!(eventually(Duration::from_secs(10), || orphan.try_wait().unwrap().is_some()).await, "the orphan lives");
    assert_eq!(stranger.try_wait().unwrap(), None, "a stranger was killed");
    assert!(test.module().records.recorded().is_empty(), "the journal holds no run any more");
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test]
async fn a_finished_run_leaves_no_record() {
    let (test, _lines) = module(config());
    run(&test, json!({"program": "true"}), LONG).await.unwrap();
    let _ = run(&test, json!({"program": "false"}), LONG).await.unwrap_err();
    assert!(test.module().records.recorded().is_empty(), "both runs ended in the journal");
}
