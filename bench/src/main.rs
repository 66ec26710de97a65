//! Benchmarks of the real system, one JSON line per run on stdout:
//!
//! - `bus [--threads N] [--seconds S]`: cross-library no-op command round trips.
//!
//! Each workload also measures a baseline in the same run, since the machines are shared
//! and noisy: compare ratios, not absolute figures.

mod bus;
mod support;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (workload, rest) = args.split_first().map(|(w, r)| (w.as_str(), r)).unwrap_or(("", &[]));
    match workload {
        "bus" => bus::run(rest),
        other => anyhow::bail!("unknown workload '{other}'; workloads: bus"),
    }
}
