//! `bus`: cross-library no-op command round trips (`system:echo` with a small JSON
//! payload) through the real host bus and the real module library, on N threads; plus
//! 10,000 concurrent in-flight calls.
//!
//! Baseline, same run: the same JSON decode and encode done directly in this process,
//! without the bus or the C boundary. The ratio is the cost of the boundary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use system_api::{EchoOutput, EchoParams};
use systemprompt::bus::CallRequest;
use systemprompt::host::Host;

use crate::support::{build_modules, flag, host_config, percentile};

const PAYLOAD: &[u8] = br#"{"message":"ping"}"#;

/// Runs `work` on `threads` threads for `seconds`, returning (calls, sorted latencies ns).
fn measure(threads: usize, seconds: f64, work: impl Fn() -> bool + Sync) -> (u64, Vec<u64>) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let results: Vec<(u64, Vec<u64>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::with_capacity(1 << 22);
                    let mut calls = 0u64;
                    // Every 8th call is timed: reading the clock on every call would cost as much
                    // as a call on this machine.
                    while Instant::now() < deadline {
                        for _ in 0..8 {
                            for _ in 0..7 {
                                assert!(work(), "a call failed");
                            }
                            let started = Instant::now();
                            assert!(work(), "a call failed");
                            latencies.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
                            calls += 8;
                        }
                    }
                    (calls, latencies)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("bench thread")).collect()
    });
    let calls = results.iter().map(|r| r.0).sum();
    let mut latencies: Vec<u64> = results.into_iter().flat_map(|r| r.1).collect();
    latencies.sort_unstable();
    (calls, latencies)
}

/// What `system:echo` does with the payload, minus the bus and the boundary.
fn baseline_echo() -> bool {
    let Ok(params) = serde_json::from_slice::<EchoParams>(std::hint::black_box(PAYLOAD)) else { return false };
    let out = serde_json::to_vec(&EchoOutput { message: params.message });
    std::hint::black_box(out).is_ok()
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let threads: usize = flag(args, "--threads", 1)?;
    let seconds: f64 = flag(args, "--seconds", 3.0)?;
    build_modules(&["system"])?;
    let dir = tempfile::tempdir()?;
    let config = host_config(dir.path(), &["modules/system"], "")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()?;
    let host: Arc<Host> = runtime.block_on(Host::start(config))?;
    anyhow::ensure!(host.skipped().is_empty(), "modules skipped: {:?}", host.skipped());
    let bus = host.bus().clone();

    // Warm up, then measure the bus, then the baseline.
    let echo = CallRequest { command: "system:echo", payload: PAYLOAD, caller: "bench", ..CallRequest::default() };
    let bus_call = || matches!(bus.start(&echo), systemprompt::bus::Started::Ready(Ok(ref bytes)) if bytes.as_slice() == br#"{"message":"ping"}"#);
    measure(threads, 0.3, bus_call);
    let (calls, latencies) = measure(threads, seconds, bus_call);
    let (base_calls, _) = measure(threads, seconds.min(1.0), baseline_echo);
    let calls_per_sec = calls as f64 / seconds;
    let baseline_per_sec = base_calls as f64 / seconds.min(1.0);

    // 10,000 calls in flight at once: each sleeps 1–20 ms in the module.
    let inflight = runtime.block_on(async {
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for n in 0..10_000u64 {
            let bus = bus.clone();
            set.spawn(async move {
                let payload = format!(r#"{{"ms":{}}}"#, 1 + n % 20);
                bus.call(CallRequest {
                    command: "system:sleep",
                    payload: payload.as_bytes(),
                    caller: "bench",
                    ..CallRequest::default()
                })
                .await
                .is_ok()
            });
        }
        let mut errors = 0u64;
        while let Some(ok) = set.join_next().await {
            if !matches!(ok, Ok(true)) {
                errors += 1;
            }
        }
        (started.elapsed(), errors)
    });

    let line = serde_json::json!({
        "workload": "bus",
        "threads": threads,
        "seconds": seconds,
        "calls": calls,
        "calls_per_sec": calls_per_sec.round(),
        "latency_ns": { "p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0), "max": latencies.last().copied().unwrap_or(0) },
        "baseline_in_process_json_per_sec": baseline_per_sec.round(),
        "ratio_to_baseline": (calls_per_sec / baseline_per_sec * 1000.0).round() / 1000.0,
        "inflight": { "calls": 10_000, "ms": inflight.0.as_millis(), "errors": inflight.1 },
    });
    println_json(&line);
    runtime.block_on(host.stop());
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the benchmark's output is one JSON line on stdout")]
fn println_json(line: &serde_json::Value) {
    println!("{line}");
}
