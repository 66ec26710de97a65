//! The command bus measured in-process, with the real module libraries: deadlines,
//! caller cancellation, and many calls in flight.
//!
//! A library holds one module instance per process, so every test here shares one host,
//! started once on a runtime that outlives the tests.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost};
use systemprompt::bus::CallRequest;
use systemprompt::config::{ConfigSource, HostConfig};
use systemprompt::host::Host;
use tokio_util::sync::CancellationToken;

struct Shared {
    runtime: tokio::runtime::Runtime,
    host: Arc<Host>,
    _dir: TestHost,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let dir = TestHost::new(HostSpec::default());
    let config =
        HostConfig::load(&ConfigSource { config_file: Some(dir.config_file()), data_dir: Some(dir.data_dir()) })
            .expect("the test config loads");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let host = runtime.block_on(Host::start(config)).expect("the host starts");
    assert!(host.skipped().is_empty(), "{:?}", host.skipped());
    Shared { runtime, host, _dir: dir }
});

fn sleep_call(payload: &[u8], timeout: Option<Duration>, cancel: Option<CancellationToken>) -> CallRequest<'_> {
    CallRequest { command: "system:sleep", payload, caller: "test", timeout, cancel, ..CallRequest::default() }
}

#[test]
fn a_deadline_returns_timeout_within_100ms_of_it() {
    let shared = &*SHARED;
    shared.runtime.block_on(async {
        for deadline_ms in [50, 200, 500] {
            let started = Instant::now();
            let deadline = Duration::from_millis(deadline_ms);
            let error =
                shared.host.bus().call(sleep_call(br#"{"ms": 60000}"#, Some(deadline), None)).await.unwrap_err();
            let elapsed = started.elapsed();
            assert_eq!(error.code, "timeout");
            assert!(elapsed >= deadline, "{elapsed:?}");
            assert!(elapsed < deadline + Duration::from_millis(100), "{elapsed:?} for a {deadline_ms}ms deadline");
        }
    });
}

#[test]
fn a_caller_can_cancel_a_call() {
    let shared = &*SHARED;
    shared.runtime.block_on(async {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trigger.cancel();
        });
        let started = Instant::now();
        let error = shared.host.bus().call(sleep_call(br#"{"ms": 60000}"#, None, Some(cancel))).await.unwrap_err();
        assert_eq!(error.code, "cancelled");
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn ten_thousand_concurrent_calls_complete_without_error() {
    let shared = &*SHARED;
    shared.runtime.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..10_000u32 {
            let bus = shared.host.bus().clone();
            calls.spawn(async move {
                let payload = format!(r#"{{"ms": {}}}"#, 20 + n % 30);
                bus.call(sleep_call(payload.as_bytes(), None, None)).await
            });
        }
        let mut completed = 0;
        while let Some(result) = calls.join_next().await {
            let output = result.unwrap().unwrap();
            let output: serde_json::Value = serde_json::from_slice(&output).unwrap();
            assert!(output["slept_ms"].as_u64().unwrap() >= 20);
            completed += 1;
        }
        assert_eq!(completed, 10_000);
    });
}
