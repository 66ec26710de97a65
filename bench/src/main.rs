//! Workload benchmarks: `cargo run --release -p bench -- <workload> [args]`.
//!
//! Each workload lives in its own file with a `pub(crate) fn run(args: &[String]) -> Result<(), String>`
//! and prints one JSON line on stdout. This file only dispatches on the workload name.

mod next;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let outcome = match args.first().map(String::as_str) {
        Some("next") => next::run(rest),
        _ => Err("usage: bench <workload> [args]; workloads: next".to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
