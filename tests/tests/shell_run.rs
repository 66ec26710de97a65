//! The shell runner in the real host, run by hand through the CLI (no scheduler): the
//! module loads, a program's argv arrives unchanged, the host's own environment stays out
//! of the child, and a failing exit is reported with its code. Scheduled runs (logs,
//! retries, timeouts through the scheduler) are tested by the scheduler's black-box tests.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use blackbox::{HostSpec, TestHost};

fn host() -> TestHost {
    TestHost::new(HostSpec { modules: vec!["modules/system".into(), "modules/shell".into()], ..HostSpec::default() })
}

#[test]
fn a_program_run_by_hand_gets_its_argv_unchanged_and_answers_with_its_output_tail() {
    let mut host = host();
    host.start();
    let out = host.json(&["shell:run", "--program", "printf", "--args", r#"["%s|%s\n", "a b", "$(id)"]"#]);
    assert_eq!(out["exit_code"], 0);
    assert_eq!(out["stdout_tail"], serde_json::json!(["a b|$(id)"]));
}

#[test]
fn the_child_does_not_see_a_secret_of_the_hosts_environment() {
    let mut host = host();
    host.start_with_env(&[("SHELL_TEST_SECRET", "hunter2")]);
    let out = host.json(&["shell:run", "--program", "env"]);
    let env: Vec<String> =
        out["stdout_tail"].as_array().unwrap().iter().map(|line| line.as_str().unwrap().to_owned()).collect();
    assert!(env.iter().any(|line| line.starts_with("PATH=")), "{env:?}");
    assert!(env.iter().all(|line| !line.contains("hunter2")), "{env:?}");
}

#[test]
fn a_failing_exit_is_reported_with_its_code_and_stderr() {
    let mut host = host();
    host.start();
    let out = host.cli(&["shell:run", "--program", "sh", "--args", r#"["-c", "echo broken >&2; exit 3"]"#]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("exit code 3: broken"), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}
