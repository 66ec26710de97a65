//! The command and event buses through the real binary and libraries: panics, deadlines,
//! cancellation, events between modules.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};

#[test]
fn a_panicking_handler_returns_an_error_and_the_host_serves_the_next_call() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let out = host.cli(&["system:panic", "--message", "kaboom"]);
    out.assert_code(1);
    assert_eq!(out.stderr.trim(), "error: system:panic panicked: kaboom");
    assert_eq!(host.json(&["system:echo", "--message", "alive"])["message"], "alive");
}

#[test]
fn sleep_past_its_deadline_times_out_and_the_handler_sees_cancellation() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let out = host.cli(&["system:sleep", "--ms", "60000", "--call-timeout", "300", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.json()["error"]["code"], "timeout");
    assert_eq!(out.stderr.trim(), "error: system:sleep timed out after 300ms");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !host.log().contains("Sleep cancelled.") {
        assert!(Instant::now() < deadline, "the handler never logged its cancellation:\n{}", host.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn events_published_by_one_module_reach_a_subscribed_module_in_order() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/recorder".into()],
        ..HostSpec::default()
    });
    host.start();
    for n in 0..20 {
        host.json(&["system:emit", "--event", "ping", "--payload", &format!("{{\"n\":{n}}}")]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = host.json(&["recorder:events", "--prefix", "system:"]);
        let events = events.as_array().unwrap();
        if events.len() == 20 {
            for (n, event) in events.iter().enumerate() {
                assert_eq!(event["name"], "system:ping");
                assert_eq!(event["payload"]["n"], n);
            }
            break;
        }
        assert!(Instant::now() < deadline, "only {} of 20 events arrived", events.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_module_can_dispatch_commands_on_the_bus() {
    // system:health asks the host for `host:modules` through its host handle.
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/recorder".into()],
        ..HostSpec::default()
    });
    host.start();
    let health = host.json(&["system:health"]);
    assert_eq!(health["status"], "ok");
    let mut modules: Vec<&str> = health["modules"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    modules.sort_unstable();
    assert_eq!(modules, ["recorder", "system"]);
}

#[test]
fn the_host_says_whether_a_command_exists_who_answers_it_and_what_is_close() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let echo = host.json(&["host:command", "--name", "system:echo"]);
    assert_eq!(echo, serde_json::json!({"found": true, "owner": "system", "suggestions": []}));
    let status = host.json(&["host:command", "--name", "host:status"]);
    assert_eq!(status, serde_json::json!({"found": true, "owner": "host", "suggestions": []}));
    let typo = host.json(&["host:command", "--name", "system:ecko"]);
    assert_eq!(typo, serde_json::json!({"found": false, "owner": null, "suggestions": ["system:echo"]}));
    let absent = host.json(&["host:command", "--name", "backup:run"]);
    assert_eq!(absent, serde_json::json!({"found": false, "owner": null, "suggestions": []}));
}

#[test]
fn a_timed_out_caller_is_answered_only_once_the_cancelled_handler_has_stopped() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let started = Instant::now();
    let out =
        host.cli(&["system:sleep", "--ms", "60000", "--stop-ms", "700", "--call-timeout", "300", "--format", "json"]);
    let waited = started.elapsed();
    out.assert_code(1);
    assert_eq!(out.json()["error"]["code"], "timeout");
    // Deadline 300 ms + 700 ms to stop: an answer sooner would have come while it ran.
    assert!(waited >= Duration::from_millis(1000), "answered after {waited:?}, before the handler stopped");
}

#[test]
fn a_handler_that_does_not_stop_holds_its_caller_no_longer_than_deadline_plus_grace() {
    let mut host = TestHost::new(HostSpec { extra_config: "cancel_grace_ms: 200\n".into(), ..HostSpec::default() });
    host.start();
    let started = Instant::now();
    let out =
        host.cli(&["system:sleep", "--ms", "60000", "--stop-ms", "60000", "--call-timeout", "300", "--format", "json"]);
    let waited = started.elapsed();
    out.assert_code(1);
    assert_eq!(out.json()["error"]["code"], "timeout");
    assert!(waited < Duration::from_secs(30), "held {waited:?}: the handler was not abandoned after the grace");
    assert!(waited >= Duration::from_millis(500), "answered after {waited:?}, before deadline + grace");
}
