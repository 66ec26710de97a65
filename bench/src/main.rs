//! Benchmark binary: `cargo run --release -p bench -- <workload> [flags]`; each workload
//! prints one JSON line. One line per workload below; each lives in its own file.

mod fire;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fire") => fire::main(&args[1..]),
        _ => Err("usage: bench <workload> [flags]; workloads: fire".into()),
    }
}
