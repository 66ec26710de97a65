//! Running a host in the foreground: one host per data dir (a lock file), a pid file, the
//! CLI socket, and a clean stop on SIGINT, SIGTERM or `host:shutdown`.

use std::fs::File;
use std::io::Write;

use crate::config::HostConfig;
use crate::host::Host;
use crate::ipc;

/// Holds the data dir for this process; released when dropped (or when the process dies).
struct DataDirLock {
    _file: File,
    pid_path: std::path::PathBuf,
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_path);
    }
}

fn lock_data_dir(config: &HostConfig) -> anyhow::Result<DataDirLock> {
    std::fs::create_dir_all(&config.data_dir)?;
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(config.lock_path())?;
    let pid_path = config.data_dir.join("host.pid");
    if file.try_lock().is_err() {
        let pid = std::fs::read_to_string(&pid_path).unwrap_or_default();
        anyhow::bail!(
            "another host is already running on data dir {} (pid {}); stop it with `systemprompt stop`",
            config.data_dir.display(),
            pid.trim()
        );
    }
    let mut pid_file = File::create(&pid_path)?;
    writeln!(pid_file, "{}", std::process::id())?;
    Ok(DataDirLock { _file: file, pid_path })
}

/// Runs the host until it is asked to stop.
pub fn serve(config: HostConfig) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&config)?;
    crate::logging::init_host(&config.log_level, &config.log_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_name("host").enable_all().build()?;
    runtime.block_on(async move {
        let host = Host::start(config.clone()).await?;
        let listener = ipc::server::Listener::bind(config.socket_path())?;
        let shutdown = host.shutdown_token().clone();
        let server =
            tokio::spawn(ipc::server::serve(listener, host.bus().clone(), shutdown.clone(), config.max_request_bytes));
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tracing::info!(socket = %config.socket_path().display(), pid = std::process::id(), "Serving.");
        tokio::select! {
            () = shutdown.cancelled() => tracing::info!("Shutdown requested."),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping."),
            _ = terminate.recv() => tracing::info!("SIGTERM received; stopping."),
        }
        shutdown.cancel();
        let _ = server.await;
        let _ = std::fs::remove_file(config.socket_path());
        host.stop().await;
        tracing::info!("Host stopped.");
        anyhow::Ok(())
    })
}
