//! Benchmarks of the real system, one JSON line per run on stdout:
//!
//! - `bus [--threads N] [--seconds S]`: cross-library no-op command round trips.
//! - `next [--secs S] [--rounds R]`: next-fire computations per second.
//! - `fire --tasks N --every 1s --aligned|--staggered --seconds S`: the engine firing tasks.
//! - `spawn [--part throughput|lateness|capture]`: real programs through `shell:run`.
//!
//! Each workload lives in its own file with a `run(args)` and also measures a baseline in
//! the same run, since the machines are shared and noisy: compare ratios, not absolute
//! figures. This file only dispatches on the workload name.

mod bus;
mod durable;
mod fire;
mod next;
mod spawn;
mod support;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (workload, rest) = args.split_first().map(|(w, r)| (w.as_str(), r)).unwrap_or(("", &[]));
    match workload {
        "bus" => bus::run(rest),
        "next" => next::run(rest).map_err(anyhow::Error::msg),
        "fire" => fire::main(rest).map_err(|error| anyhow::anyhow!("{error}")),
        "spawn" => spawn::main(rest).map_err(|error| anyhow::anyhow!("{error}")),
        other => anyhow::bail!("unknown workload '{other}'; workloads: bus, next, fire, spawn"),
    }
}
