//! The CLI side: connect to the host's socket (starting a host in the background when none
//! runs and auto-start is on), send one request, read one response.
//!
//! Before anything is sent, the CLI checks who it is talking to. The rule: the socket file
//! and the process listening on it (its peer credentials, `SO_PEERCRED`) must belong to the
//! CLI's own user or to root. Anything else may be an impostor another user planted at
//! `host.sock`, and gets a refusal naming its owner, never the request.
//!
//! When the socket does not answer, the CLI does not take that for "no host": a host that
//! holds the data-dir lock and has written its pid file is running (see `daemon`), and it
//! re-binds a missing socket within a second. The CLI waits a few seconds for it, then says
//! which pid is running and what to do, rather than starting a second host or saying that
//! none runs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use systemprompt_module_sdk::CommandError;

use super::{Request, Response};
use crate::config::HostConfig;
use crate::datadir;

/// Why the CLI got no result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No host answers, and none could be started.
    #[error("{0}")]
    Unavailable(String),
    /// The command ran and failed.
    #[error("{0}")]
    Command(CommandError),
}

/// How long to wait for a host started in the background.
const START_WAIT: Duration = Duration::from_secs(30);

/// How long to wait for a running host to re-bind a missing socket (it checks every
/// second; see `ipc::server::SOCKET_CHECK_INTERVAL`).
const REBIND_WAIT: Duration = Duration::from_secs(5);

/// Why no connection was made.
#[derive(Debug)]
enum Unreachable {
    /// Nothing answers and no live host holds the data dir: a host may be started.
    NoHost(std::io::Error),
    /// Something is there, but the CLI must not (or cannot) talk to it; the message says
    /// what and what to do.
    Refused(String),
}

fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|passwd| {
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
        })
    });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

fn trusted(uid: u32) -> bool {
    uid == datadir::effective_uid() || uid == 0
}

/// Connects to the socket, checking the file's owner before and the peer's credentials
/// after, and sending nothing.
fn connect_checked(config: &HostConfig) -> Result<UnixStream, Unreachable> {
    let path = config.socket_path();
    let me = datadir::effective_uid();
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            // The host replaces whatever is at its socket path within a second; treat it as
            // missing for now.
            return Err(Unreachable::NoHost(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "not a socket",
            )));
        }
        Ok(meta) if !trusted(meta.uid()) => {
            return Err(Unreachable::Refused(format!(
                "refusing to talk to {}: the socket belongs to {}, not to you ({}) or root, so it may be an impostor; nothing was sent. Remove it, and check who can write to {}",
                path.display(),
                user_name(meta.uid()),
                user_name(me),
                config.data_dir.display()
            )));
        }
        _ => {}
    }
    let stream = match UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            let owner = std::fs::metadata(&config.data_dir)
                .map(|meta| user_name(meta.uid()))
                .unwrap_or_else(|_| "another user".to_owned());
            return Err(Unreachable::Refused(format!(
                "permission denied on the host's socket {}: the data dir belongs to {owner} and you are {}; run the command as that user, or use a data dir of your own (`--data-dir`)",
                path.display(),
                user_name(me)
            )));
        }
        Err(error) => return Err(Unreachable::NoHost(error)),
    };
    let peer = rustix::net::sockopt::socket_peercred(&stream).map_err(|error| {
        Unreachable::Refused(format!("cannot check who listens on {}: {error}; nothing was sent", path.display()))
    })?;
    let peer_uid = peer.uid.as_raw();
    if !trusted(peer_uid) {
        return Err(Unreachable::Refused(format!(
            "refusing to talk to {}: the process listening on it (pid {}) runs as {}, not as you ({}) or root, so it may be an impostor; nothing was sent",
            path.display(),
            peer.pid.as_raw_nonzero(),
            user_name(peer_uid),
            user_name(me)
        )));
    }
    Ok(stream)
}

/// Whether a host holds the data-dir lock, and its pid once it has served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Nobody holds the lock.
    Free,
    /// A host holds it but has not bound its socket yet (no pid file).
    Starting,
    /// A host holds it and has served on its socket.
    Serving(u32),
}

fn live_pid(config: &HostConfig) -> Option<u32> {
    let text = std::fs::read_to_string(config.pid_path()).ok()?;
    let pid = text.trim().parse::<i32>().ok()?;
    let process = rustix::process::Pid::from_raw(pid)?;
    match rustix::process::test_kill_process(process) {
        Ok(()) | Err(rustix::io::Errno::PERM) => u32::try_from(pid).ok(),
        Err(_) => None,
    }
}

/// Who holds the data-dir lock. Probing takes the lock for an instant when it is free, so
/// callers that may race a starting host probe only when a live pid file says one serves.
fn lock_holder(config: &HostConfig) -> Holder {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(config.lock_path()) else {
        return Holder::Free;
    };
    match file.try_lock() {
        Ok(()) => Holder::Free,
        Err(_) => live_pid(config).map_or(Holder::Starting, Holder::Serving),
    }
}

fn unreachable_host(config: &HostConfig, pid: u32, error: &std::io::Error) -> String {
    format!(
        "a host is running for data dir {} (pid {pid}) but does not answer on {} ({error}) within {REBIND_WAIT:?}, though a running host re-creates its socket within a second: it is stopped or stuck. Stop it with `kill {pid}` (or `kill -9 {pid}`), then run the command again",
        config.data_dir.display(),
        config.socket_path().display()
    )
}

/// Connects without starting a host. `probe_lock` also asks the lock when no pid file
/// names a live host (for `stop`, which must never take a starting host for none).
fn reach(config: &HostConfig, probe_lock: bool) -> Result<UnixStream, Unreachable> {
    let error = match connect_checked(config) {
        Ok(stream) => return Ok(stream),
        Err(Unreachable::NoHost(error)) => error,
        Err(refused) => return Err(refused),
    };
    let holder = if probe_lock || live_pid(config).is_some() { lock_holder(config) } else { Holder::Free };
    let Holder::Serving(pid) = holder else {
        if holder == Holder::Starting {
            return Err(Unreachable::Refused(format!(
                "a host is starting for data dir {} (it holds {}) but does not serve yet; try again in a moment",
                config.data_dir.display(),
                config.lock_path().display()
            )));
        }
        return Err(Unreachable::NoHost(error));
    };
    let deadline = Instant::now() + REBIND_WAIT;
    let mut last = error;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        match connect_checked(config) {
            Ok(stream) => return Ok(stream),
            Err(Unreachable::NoHost(error)) => last = error,
            Err(refused) => return Err(refused),
        }
        if live_pid(config).is_none() {
            // It stopped while we waited.
            return Err(Unreachable::NoHost(last));
        }
    }
    Err(Unreachable::Refused(unreachable_host(config, pid, &last)))
}

/// Starts `systemprompt serve` for this data dir in the background, detached from the
/// terminal, with its output in the data dir's log directory.
pub fn spawn_host(config: &HostConfig) -> Result<(), ClientError> {
    let unavailable = |what: &str, error: &dyn std::fmt::Display| ClientError::Unavailable(format!("{what}: {error}"));
    // Creates the data dir too when missing (0700); a data dir that is a link the user made
    // is fine, a link at logs/ is not.
    datadir::create_private_dir(&config.log_dir())
        .map_err(|error| unavailable("cannot create the log directory", &error))?;
    let log = datadir::open_no_follow(&config.log_dir().join("host.out"), std::fs::OpenOptions::new().append(true))
        .map_err(|error| unavailable("cannot open the host log", &error))?;
    let exe = std::env::current_exe().map_err(|error| unavailable("cannot find the systemprompt binary", &error))?;
    let mut command = std::process::Command::new(exe);
    command.arg("serve").arg("--data-dir").arg(&config.data_dir);
    if let Some(file) = &config.file {
        command.arg("--config").arg(file);
    }
    let err = log.try_clone().map_err(|error| unavailable("cannot open the host log", &error))?;
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|error| unavailable("cannot start a host", &error))?;
    Ok(())
}

/// Connects to the host, starting one when allowed.
pub fn connect(config: &HostConfig) -> Result<UnixStream, ClientError> {
    match reach(config, false) {
        Ok(stream) => return Ok(stream),
        Err(Unreachable::Refused(message)) => return Err(ClientError::Unavailable(message)),
        Err(Unreachable::NoHost(_)) => {}
    }
    if !config.autostart {
        return Err(ClientError::Unavailable(format!(
            "no host is running for data dir {} and auto-start is off; start one with `systemprompt serve`",
            config.data_dir.display()
        )));
    }
    spawn_host(config)?;
    let started = Instant::now();
    while started.elapsed() < START_WAIT {
        match connect_checked(config) {
            Ok(stream) => return Ok(stream),
            Err(Unreachable::Refused(message)) => return Err(ClientError::Unavailable(message)),
            Err(Unreachable::NoHost(_)) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    Err(ClientError::Unavailable(format!(
        "started a host for data dir {} but it did not answer within {START_WAIT:?}; see {}",
        config.data_dir.display(),
        config.log_dir().join("host.out").display()
    )))
}

/// Connects to a running host without starting one: `Ok(None)` when none runs. Unlike
/// [`connect`], it also asks the data-dir lock, so a host that runs but cannot be reached
/// is an error, never "none".
pub fn connect_running(config: &HostConfig) -> Result<Option<UnixStream>, ClientError> {
    match reach(config, true) {
        Ok(stream) => Ok(Some(stream)),
        Err(Unreachable::NoHost(_)) => Ok(None),
        Err(Unreachable::Refused(message)) => Err(ClientError::Unavailable(message)),
    }
}

/// Sends one request and waits for its response.
pub fn call(config: &HostConfig, request: &Request) -> Result<serde_json::Value, ClientError> {
    let stream = connect(config)?;
    call_on(stream, request)
}

/// Sends one request on an open connection.
pub fn call_on(mut stream: UnixStream, request: &Request) -> Result<serde_json::Value, ClientError> {
    let broken = |error: std::io::Error| ClientError::Unavailable(format!("lost the connection to the host: {error}"));
    let mut line = serde_json::to_vec(request)
        .map_err(|error| ClientError::Command(CommandError::invalid_params(error.to_string())))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(broken)?;
    let mut reader = BufReader::new(stream);
    let mut response = String::new();
    reader.read_line(&mut response).map_err(broken)?;
    if response.is_empty() {
        return Err(ClientError::Unavailable("the host closed the connection without answering".to_owned()));
    }
    let response: Response = serde_json::from_str(&response)
        .map_err(|error| ClientError::Unavailable(format!("malformed response from the host: {error}")))?;
    match (response.ok, response.result, response.error) {
        (true, result, _) => Ok(result.unwrap_or(serde_json::Value::Null)),
        (false, _, Some(error)) => Err(ClientError::Command(error)),
        (false, _, None) => {
            Err(ClientError::Command(CommandError::internal("the host reported a failure without an error")))
        }
    }
}

/// Whether a host answers on this data dir, without starting one.
pub fn is_running(config: &HostConfig) -> bool {
    connect_checked(config).is_ok()
}
