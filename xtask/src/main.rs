//! Project commands, so a newcomer needs two:
//!
//! - `cargo xtask run [-- serve flags]`: builds the host and every module in release mode
//!   and runs `systemprompt serve` on the local data dir `.data/` (SQLite included).
//! - `cargo xtask test [--quick]`: the whole suite — tidy (every file documented; also a
//!   unit test of this crate, so `cargo test --workspace` enforces it),
//!   `cargo deny check licenses bans sources` (policy in `deny.toml`; cargo-deny must be
//!   installed, the error says how), `cargo fmt --check`, clippy with warnings denied, the
//!   build, every test (nextest when installed, else `cargo test`) and the doc tests.
//!   `--quick` skips fmt and clippy.

use std::path::{Path, PathBuf};
use std::process::Command;

mod tidy;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

fn run(mut command: Command) -> anyhow::Result<()> {
    eprintln!("xtask: {command:?}");
    let status = command.status()?;
    anyhow::ensure!(status.success(), "{command:?} failed with {status}");
    Ok(())
}

fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// Every `.rs` file starts with a `//!` doc saying what it is for (see `tidy.rs`).
fn tidy() -> anyhow::Result<()> {
    tidy::check(&root())?;
    eprintln!("xtask: tidy ok");
    Ok(())
}

fn has_cargo_deny() -> bool {
    cargo().args(["deny", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// Licenses, banned or duplicated crates and sources, by `deny.toml`. Advisories are left
/// out: they need the RustSec database from the network.
fn deny() -> anyhow::Result<()> {
    anyhow::ensure!(
        has_cargo_deny(),
        "cargo-deny is not installed; the test command checks licenses, bans and sources with it.\n  \
         Install it once with `cargo install --locked cargo-deny` (a release build, several minutes), \
         then run `cargo xtask test` again (.ci/run installs it when missing)."
    );
    let mut deny = cargo();
    deny.args(["deny", "check", "--hide-inclusion-graph", "licenses", "bans", "sources"]);
    run(deny)
}

fn test(quick: bool) -> anyhow::Result<()> {
    tidy()?;
    deny()?;
    if !quick {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--", "--check"]);
        run(fmt)?;
        let mut clippy = cargo();
        clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
        run(clippy)?;
    }
    let mut build = cargo();
    build.args(["build", "--workspace"]);
    run(build)?;
    let mut tests = cargo();
    if has_nextest() {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    tests.env("SYSTEMPROMPT_TEST_PREBUILT", "1");
    run(tests)?;
    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc"]);
    run(doc)
}

fn serve(extra: &[String]) -> anyhow::Result<()> {
    let mut build = cargo();
    build.args(["build", "--release"]);
    run(build)?;
    let mut host = Command::new(root().join("target/release/systemprompt"));
    host.current_dir(root());
    if !extra.iter().any(|a| a.starts_with("--data-dir")) && std::env::var_os("SYSTEMPROMPT_DATA_DIR").is_none() {
        host.args(["--data-dir", ".data"]);
    }
    host.arg("serve").args(extra);
    run(host)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => serve(&args[1..]),
        Some("test") => test(args.iter().any(|a| a == "--quick")),
        Some("tidy") => tidy(),
        Some("deny") => deny(),
        _ => anyhow::bail!("usage: cargo xtask run | test [--quick] | tidy | deny"),
    }
}
