//! Shared benchmark plumbing: argument parsing, building the module libraries, a host on a
//! temporary data dir, percentiles.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The value after `--name`, parsed.
pub(crate) fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            let raw = args.get(i + 1).ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            raw.parse().map_err(|_| anyhow::anyhow!("{name}: cannot parse '{raw}'"))
        }
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The directory holding this benchmark binary (and so the module libraries of its profile).
pub(crate) fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent().map(Path::to_path_buf).ok_or_else(|| anyhow::anyhow!("the bench binary has no directory"))
}

/// Builds the module libraries in the bench's own profile (a no-op when fresh).
pub(crate) fn build_modules(packages: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args(["build", "--quiet"]);
    if profile_dir()?.ends_with("release") {
        command.arg("--release");
    }
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command.status()?;
    anyhow::ensure!(status.success(), "building {packages:?} failed");
    Ok(())
}

/// A host config on a fresh temporary data dir loading `modules` (workspace-relative).
pub(crate) fn host_config(
    dir: &Path,
    modules: &[&str],
    extra: &str,
) -> anyhow::Result<systemprompt::config::HostConfig> {
    let paths: Vec<String> = modules.iter().map(|m| format!("  - {}", workspace_root().join(m).display())).collect();
    let config = format!(
        "log_level: warn\nautostart: false\nmodule_paths:\n{}\nlibrary_paths:\n  - {}\n{extra}\n",
        paths.join("\n"),
        profile_dir()?.display()
    );
    let file = dir.join("systemprompt.yaml");
    std::fs::write(&file, config)?;
    systemprompt::config::HostConfig::load(&systemprompt::config::ConfigSource {
        config_file: Some(file),
        data_dir: Some(dir.join("data")),
    })
}

/// The `p`-th percentile (0–100) of sorted samples, by nearest rank; 0 when empty.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
