//! The CLI side: connect to the host's socket (starting a host in the background when none
//! runs and auto-start is on), send one request, read one response.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use systemprompt_module_sdk::CommandError;

use super::{Request, Response};
use crate::config::HostConfig;

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

fn connect_existing(config: &HostConfig) -> Option<UnixStream> {
    UnixStream::connect(config.socket_path()).ok()
}

/// Starts `systemprompt serve` for this data dir in the background, detached from the
/// terminal, with its output in the data dir's log directory.
pub fn spawn_host(config: &HostConfig) -> Result<(), ClientError> {
    let unavailable = |what: &str, error: std::io::Error| ClientError::Unavailable(format!("{what}: {error}"));
    std::fs::create_dir_all(config.log_dir()).map_err(|e| unavailable("cannot create the log directory", e))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.log_dir().join("host.out"))
        .map_err(|e| unavailable("cannot open the host log", e))?;
    let exe = std::env::current_exe().map_err(|e| unavailable("cannot find the systemprompt binary", e))?;
    let mut command = std::process::Command::new(exe);
    command.arg("serve").arg("--data-dir").arg(&config.data_dir);
    if let Some(file) = &config.file {
        command.arg("--config").arg(file);
    }
    let err = log.try_clone().map_err(|e| unavailable("cannot open the host log", e))?;
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| unavailable("cannot start a host", e))?;
    Ok(())
}

/// Connects to the host, starting one when allowed.
pub fn connect(config: &HostConfig) -> Result<UnixStream, ClientError> {
    if let Some(stream) = connect_existing(config) {
        return Ok(stream);
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
        if let Some(stream) = connect_existing(config) {
            return Ok(stream);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(ClientError::Unavailable(format!(
        "started a host for data dir {} but it did not answer within {START_WAIT:?}; see {}",
        config.data_dir.display(),
        config.log_dir().join("host.out").display()
    )))
}

/// Sends one request and waits for its response.
pub fn call(config: &HostConfig, request: &Request) -> Result<serde_json::Value, ClientError> {
    let stream = connect(config)?;
    call_on(stream, request)
}

/// Sends one request on an open connection.
pub fn call_on(mut stream: UnixStream, request: &Request) -> Result<serde_json::Value, ClientError> {
    let broken = |error: std::io::Error| ClientError::Unavailable(format!("lost the connection to the host: {error}"));
    let mut line =
        serde_json::to_vec(request).map_err(|e| ClientError::Command(CommandError::invalid_params(e.to_string())))?;
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
    connect_existing(config).is_some()
}
