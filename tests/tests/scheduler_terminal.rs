//! The scheduler's commands on a terminal: the interactive form of `scheduler:create` and
//! the confirmation of `scheduler:delete`, typed into a real pseudo-terminal.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use blackbox::{HostSpec, TestHost};

fn host() -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into()],
        ..HostSpec::default()
    });
    host.start();
    host
}

fn task_names(host: &TestHost) -> Vec<String> {
    let tasks = host.json(&["scheduler:list"]);
    tasks.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn create_with_no_flags_on_a_terminal_asks_for_the_fields_and_offers_the_presets() {
    let host = host();
    let out = host.cli_on_terminal(&["scheduler:create"], "nightly\nsystem:echo\n\n\ndaily 02:30\nn\n");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("daily 02:30"), "the schedule prompt lists the presets:\n{}", out.stdout);
    let task = host.json(&["scheduler:get", "--id", "nightly"]);
    assert_eq!((task["command"].as_str(), task["schedule"].as_str()), (Some("system:echo"), Some("30 2 * * *")));
}

#[test]
fn the_form_re_asks_until_an_answer_fits() {
    let host = host();
    let out = host.cli_on_terminal(
        &["scheduler:create"],
        "weekly\nsystem:echo\n\n\nweekly mon 09:00\ny\n\n\n\n\nlots\n2\n\n\n\n\n\n\n",
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("retries must be a whole number, got 'lots'"), "{}", out.stdout);
    assert_eq!(host.json(&["scheduler:get", "--id", "weekly"])["retries"], 2);
}

#[test]
fn delete_on_a_terminal_asks_and_no_keeps_the_task() {
    let host = host();
    host.json(&["scheduler:create", "--name", "keep", "--command", "system:echo", "--schedule", "5m"]);
    let out = host.cli_on_terminal(&["scheduler:delete", "--id", "keep"], "n\n");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("aborted; nothing was changed"), "{}", out.stdout);
    assert_eq!(task_names(&host), ["keep"]);
    let out = host.cli_on_terminal(&["scheduler:delete", "--id", "keep"], "y\n");
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(task_names(&host).is_empty());
}

#[test]
fn delete_off_a_terminal_without_confirm_is_refused_and_keeps_the_task() {
    let host = host();
    host.json(&["scheduler:create", "--name", "keep", "--command", "system:echo", "--schedule", "5m"]);
    let out = host.cli(&["scheduler:delete", "--id", "keep"]);
    out.assert_code(2);
    assert_eq!(out.stderr.trim(), "error: scheduler:delete needs --confirm when not run from a terminal");
    assert_eq!(task_names(&host), ["keep"]);
}
