//! Running a host in the foreground: one host per data dir (a lock file), a pid file, the
//! CLI socket, and a clean stop on SIGINT, SIGTERM or `host:shutdown`.
//!
//! Order matters: the data dir is checked ([`crate::datadir::check`]) before anything is
//! written in it, and the pid file is written only once the socket is bound, so a pid file
//! naming a live process that holds the lock means "this host has served on its socket"
//! (the CLI relies on it to tell a starting host from one whose socket went missing).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use crate::config::HostConfig;
use crate::datadir::{self, open_no_follow};
use crate::host::Host;
use crate::ipc;

/// Holds the data dir for this process; released when dropped (or when the process dies).
struct DataDirLock {
    _file: File,
    pid_path: PathBuf,
    // Invariant: true once this process wrote the pid file (only then is it ours to remove).
    wrote_pid: bool,
}

impl DataDirLock {
    fn write_pid(&mut self) -> anyhow::Result<()> {
        let mut pid_file = open_no_follow(&self.pid_path, std::fs::OpenOptions::new().write(true).truncate(true))?;
        self.wrote_pid = true;
        writeln!(pid_file, "{}", std::process::id())?;
        Ok(())
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        if self.wrote_pid {
            let _ = std::fs::remove_file(&self.pid_path);
        }
    }
}

fn lock_data_dir(config: &HostConfig) -> anyhow::Result<DataDirLock> {
    let file = open_no_follow(&config.lock_path(), std::fs::OpenOptions::new().truncate(false).write(true))?;
    let pid_path = config.pid_path();
    // Refused before anything starts; writing it later refuses a link again (O_NOFOLLOW).
    if std::fs::symlink_metadata(&pid_path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(datadir::DataDirError::Symlink { path: pid_path }.into());
    }
    if file.try_lock().is_err() {
        let pid = std::fs::read_to_string(&pid_path).unwrap_or_default();
        let pid = match pid.trim() {
            "" => "not serving yet".to_owned(),
            pid => format!("pid {pid}"),
        };
        anyhow::bail!(
            "another host is already running on data dir {} ({pid}); stop it with `systemprompt stop`",
            config.data_dir.display(),
        );
    }
    Ok(DataDirLock { _file: file, pid_path, wrote_pid: false })
}

/// Writes where HTTP listens to `DATA_DIR/http.addr` (for scripts: `curl $(cat …)`).
fn write_http_addr(config: &HostConfig, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let mut file =
        open_no_follow(&config.http_addr_path(), std::fs::OpenOptions::new().write(true).create(true).truncate(true))?;
    writeln!(file, "{addr}")?;
    Ok(())
}

/// Runs the host until it is asked to stop.
pub fn serve(config: HostConfig) -> anyhow::Result<()> {
    let warnings = datadir::check(&config.data_dir)?;
    let mut lock = lock_data_dir(&config)?;
    crate::logging::init_host(&config.log_level, &config.log_dir())?;
    for warning in &warnings {
        tracing::warn!(%warning, "The data dir is not private.");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_name("host").enable_all().build()?;
    runtime.block_on(async move {
        let host = Host::start(config.clone()).await?;
        let listener = ipc::server::Listener::bind(config.socket_path())?;
        lock.write_pid()?;
        let shutdown = host.shutdown_token().clone();
        let server =
            tokio::spawn(ipc::server::serve(listener, host.bus().clone(), shutdown.clone(), config.max_request_bytes));
        let http = match config.http.bind {
            None => None,
            Some(_) => {
                let serves = crate::http::Serves {
                    bus: host.bus().clone(),
                    tokens: host.tokens().clone(),
                    modules: host.modules(),
                    builtins: Host::builtin_manifests(),
                    call_timeout: config.call_timeout,
                };
                let server = match crate::http::Server::bind(&config.http, serves).await {
                    Ok(server) => server,
                    Err(error) => {
                        shutdown.cancel();
                        host.stop().await;
                        return Err(error);
                    }
                };
                let addr = server.local_addr()?;
                write_http_addr(&config, addr)?;
                host.set_http_addr(addr);
                tracing::info!(%addr, "Serving HTTP.");
                Some(tokio::spawn(server.serve(shutdown.clone())))
            }
        };
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tracing::info!(socket = %config.socket_path().display(), pid = std::process::id(), "Serving.");
        tokio::select! {
            () = shutdown.cancelled() => tracing::info!("Shutdown requested."),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping."),
            _ = terminate.recv() => tracing::info!("SIGTERM received; stopping."),
        }
        shutdown.cancel();
        let _ = server.await;
        if let Some(http) = http {
            let _ = http.await;
            let _ = std::fs::remove_file(config.http_addr_path());
        }
        let _ = std::fs::remove_file(config.socket_path());
        host.stop().await;
        tracing::info!("Host stopped.");
        anyhow::Ok(())
    })
}
