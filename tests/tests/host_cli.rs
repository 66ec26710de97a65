//! The CLI end to end: the real binary, the real system module library, a temporary data
//! dir.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use blackbox::{HostSpec, TestHost};

#[test]
fn echo_runs_end_to_end_through_the_module_library() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let out = host.cli(&["system:echo", "--message", "hi", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.json(), serde_json::json!({"message": "hi"}));
}

#[test]
fn the_cli_starts_a_host_in_the_background_when_none_runs_and_stop_stops_it() {
    let host = TestHost::new(HostSpec { autostart: true, ..HostSpec::default() });
    assert_eq!(host.json(&["system:echo", "--message", "auto"])["message"], "auto");
    let status = host.json(&["status"]);
    assert_eq!(status["running"], true);
    host.cli(&["stop"]).assert_code(0);
    let after = host.cli(&["status", "--format", "json"]);
    after.assert_code(3);
    assert_eq!(after.json()["running"], false);
}

#[test]
fn without_auto_start_a_command_says_no_host_runs_and_exits_3() {
    let host = TestHost::new(HostSpec::default());
    let out = host.cli(&["system:echo", "--message", "x"]);
    out.assert_code(3);
    assert!(out.stderr.contains("no host is running for data dir"), "{}", out.stderr);
    assert!(out.stderr.contains("auto-start is off"), "{}", out.stderr);
}

#[test]
fn an_unknown_flag_is_a_usage_error_from_the_manifest() {
    let host = TestHost::new(HostSpec::default());
    let out = host.cli(&["system:echo", "--mesage", "hi"]);
    out.assert_code(2);
    assert!(out.stderr.contains("unexpected argument '--mesage'"), "{}", out.stderr);
    assert!(out.stderr.contains("--message"), "clap suggests the right flag: {}", out.stderr);
}

#[test]
fn an_unknown_command_lists_close_matches_and_exits_2() {
    let host = TestHost::new(HostSpec::default());
    let out = host.cli(&["system:ecko"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: unknown command 'system:ecko'; did you mean system:echo?");
}

#[test]
fn a_failing_command_exits_1_with_its_message_on_stderr_and_json_on_stdout() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let out = host.cli(&["system:fail", "--message", "disk full", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.stderr.trim(), "error: disk full");
    assert_eq!(out.json()["error"]["code"], "failed");
}

#[test]
fn modules_lists_loaded_modules_with_their_commands() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let listing = host.json(&["modules"]);
    let system = &listing["modules"][0];
    assert_eq!(system["name"], "system");
    assert_eq!(system["state"], "started");
    assert!(system["commands"].as_array().unwrap().contains(&serde_json::json!("system:echo")));
    let table = host.cli(&["modules"]);
    table.assert_code(0);
    assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
}

#[test]
fn two_hosts_with_different_data_dirs_run_side_by_side() {
    let mut first = TestHost::new(HostSpec::default());
    let mut second = TestHost::new(HostSpec::default());
    first.start();
    second.start();
    let one = first.json(&["status"]);
    let two = second.json(&["status"]);
    assert_ne!(one["pid"], two["pid"]);
    assert_eq!(first.json(&["system:echo", "--message", "1"])["message"], "1");
    assert_eq!(second.json(&["system:echo", "--message", "2"])["message"], "2");
}

#[test]
fn a_second_host_on_the_same_data_dir_is_refused() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let out = host.cli(&["serve"]);
    out.assert_code(1);
    assert!(out.stderr.contains("another host is already running on data dir"), "{}", out.stderr);
    host.json(&["system:echo"]);
}

#[test]
fn sigterm_stops_the_host_cleanly() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let pid = host.child().unwrap().id();
    std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    let status = host.child().unwrap().wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(host.log().contains("SIGTERM received; stopping."));
    assert!(host.log().contains("Module stopped. module=\"system\""), "{}", host.log());
    assert!(!host.data_dir().join("host.sock").exists());
}
