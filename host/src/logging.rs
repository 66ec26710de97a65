//! Logging through `tracing`: to stderr, and for a serving host also to
//! `<data dir>/logs/systemprompt.log`.
//!
//! The log file is opened without following a symbolic link (a link planted at its path is
//! refused, not appended through) and is created `0600`.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// For CLI invocations: warnings and errors only, on stderr.
pub fn init_cli() {
    let _ = tracing_subscriber::fmt().with_env_filter(filter("warn")).with_writer(std::io::stderr).try_init();
}

/// For a serving host: `level` and up, on stderr and in the log file.
pub fn init_host(level: &str, log_dir: &Path) -> anyhow::Result<()> {
    crate::datadir::create_private_dir(log_dir)?;
    let file = crate::datadir::open_no_follow(&log_dir.join("systemprompt.log"), OpenOptions::new().append(true))?;
    let writer = std::io::stderr.and(Mutex::new(file));
    let _ = tracing_subscriber::fmt().with_env_filter(filter(level)).with_ansi(false).with_writer(writer).try_init();
    Ok(())
}
