//! The host's configuration: `config/systemprompt.yaml`, then environment overrides.
//!
//! Relative paths in the file resolve against the file's own directory, so the same file
//! works from any working directory. Every key is checked: an unknown key or a wrong type
//! is an error naming the file and the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    log_level: Option<String>,
    autostart: Option<bool>,
    call_timeout_ms: Option<u64>,
    cancel_grace_ms: Option<u64>,
    event_queue_capacity: Option<usize>,
    max_request_bytes: Option<usize>,
    #[serde(default)]
    module_paths: Vec<PathBuf>,
    #[serde(default)]
    library_paths: Vec<PathBuf>,
    #[serde(default)]
    disabled_modules: Vec<String>,
    #[serde(default)]
    modules: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    http: HttpFile,
}

/// The `http:` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    bind: Option<String>,
    max_body_bytes: Option<usize>,
    request_timeout_ms: Option<u64>,
    max_concurrent_requests: Option<usize>,
}

/// How the host serves HTTP (`host/src/http/`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where to listen; `None` when HTTP is off (`bind: off`). Port 0 picks a free port.
    pub bind: Option<SocketAddr>,
    /// The largest request body accepted, in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// The longest a request may take; a command that takes longer is answered 504.
    pub request_timeout: Duration,
    /// Requests served at once; one more is answered 503 at once rather than queued.
    pub max_concurrent_requests: usize,
}

/// The default HTTP address: loopback only.
pub const DEFAULT_HTTP_BIND: &str = "127.0.0.1:7420";

/// Reads an HTTP bind address: `host:port` with an IP or `localhost`, or `off`.
fn parse_bind(source: &str, value: &str) -> anyhow::Result<Option<SocketAddr>> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let resolved = match value.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => value.to_owned(),
    };
    let addr: SocketAddr = resolved.parse().map_err(|_| {
        anyhow::anyhow!(
            "{source} must be an address and port such as 127.0.0.1:7420, [::1]:7420 or localhost:7420 \
             (port 0 picks a free port), or off; got '{value}'"
        )
    })?;
    if !addr.ip().is_loopback() {
        // No door is open to the network until callers can be told apart.
        anyhow::bail!(
            "{source} is {addr}, which is not a loopback address: the HTTP API has no authentication \
             configured, so anyone who reaches it could run any command; bind 127.0.0.1 or [::1]"
        );
    }
    Ok(Some(addr))
}

/// The resolved configuration of one host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The file it came from, if any (named in error messages).
    pub file: Option<PathBuf>,
    /// Where the socket, lock, logs and module data live.
    pub data_dir: PathBuf,
    /// `error` … `trace`.
    pub log_level: String,
    /// Whether the CLI starts a host in the background when none runs.
    pub autostart: bool,
    /// The deadline for calls whose command declares none.
    pub call_timeout: Duration,
    /// How long a timed-out or cancelled call waits for its handler to stop before the
    /// caller is answered.
    pub cancel_grace: Duration,
    /// Capacity of each event subscriber's queue.
    pub event_queue_capacity: usize,
    /// The longest request line the socket accepts, in bytes; a longer one is answered
    /// with an error naming this limit and discarded without being buffered.
    pub max_request_bytes: usize,
    /// Directories searched for `module.yaml` (the directory itself and its children).
    pub module_paths: Vec<PathBuf>,
    /// Directories searched for module libraries after the manifest's own directory.
    pub library_paths: Vec<PathBuf>,
    /// Modules not loaded even when found.
    pub disabled_modules: Vec<String>,
    /// Per-module config overrides, by module name.
    pub module_overrides: BTreeMap<String, serde_json::Value>,
    /// The HTTP API.
    pub http: HttpConfig,
}

/// Where the CLI flags point.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// `--config` / `SYSTEMPROMPT_CONFIG`.
    pub config_file: Option<PathBuf>,
    /// `--data-dir` / `SYSTEMPROMPT_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
}

/// The environment variables the host reads, in one place.
pub mod env {
    /// The data directory.
    pub const DATA_DIR: &str = "SYSTEMPROMPT_DATA_DIR";
    /// The config file.
    pub const CONFIG: &str = "SYSTEMPROMPT_CONFIG";
    /// Extra module directories, `:`-separated, searched before the configured ones.
    pub const MODULE_PATH: &str = "SYSTEMPROMPT_MODULE_PATH";
    /// Extra library directories, `:`-separated, searched before the configured ones.
    pub const LIBRARY_PATH: &str = "SYSTEMPROMPT_LIBRARY_PATH";
    /// `0`/`false` switches CLI auto-start off.
    pub const AUTOSTART: &str = "SYSTEMPROMPT_AUTOSTART";
    /// The log level.
    pub const LOG: &str = "SYSTEMPROMPT_LOG";
    /// The HTTP address (`http.bind`), or `off`.
    pub const HTTP_BIND: &str = "SYSTEMPROMPT_HTTP_BIND";
    /// Prefix of per-module overrides: `SYSTEMPROMPT__<MODULE>__<KEY>`.
    pub const MODULE_OVERRIDE_PREFIX: &str = "SYSTEMPROMPT__";
}

const DEFAULT_CONFIG: &str = "config/systemprompt.yaml";

/// The default of `max_request_bytes`: 8 MiB, far above any CLI request (one argument is at
/// most 128 KiB on Linux) and small enough that a hostile line cannot grow the host.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// The default of `http.max_body_bytes`: 1 MiB, far above any task (its data is at most
/// the scheduler's `maxTaskDataBytes`, 64 KiB by default).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

fn split_paths(value: &str) -> Vec<PathBuf> {
    value.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect()
}

fn parse_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => anyhow::bail!("{name} must be true or false, got '{value}'"),
    }
}

impl HostConfig {
    /// Loads the config named by `source`, the environment, or the default file when it
    /// exists; no file at all gives the built-in defaults.
    pub fn load(source: &ConfigSource) -> anyhow::Result<HostConfig> {
        let file = source
            .config_file
            .clone()
            .or_else(|| std::env::var_os(env::CONFIG).map(PathBuf::from))
            .or_else(|| Path::new(DEFAULT_CONFIG).is_file().then(|| PathBuf::from(DEFAULT_CONFIG)));
        let (parsed, base) = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| anyhow::anyhow!("cannot read config file {}: {error}", path.display()))?;
                let parsed: ConfigFile =
                    serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
                let base = std::path::absolute(path)?.parent().map(Path::to_path_buf).unwrap_or_default();
                (parsed, base)
            }
            None => (ConfigFile::default(), std::env::current_dir()?),
        };
        let resolve = |p: &Path| {
            if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
        };

        let data_dir = match source.data_dir.clone().or_else(|| std::env::var_os(env::DATA_DIR).map(PathBuf::from)) {
            Some(dir) => dir,
            None => match &parsed.data_dir {
                Some(dir) => resolve(dir),
                None => dirs::data_dir()
                    .ok_or_else(|| anyhow::anyhow!("no platform data directory; pass --data-dir"))?
                    .join("systemprompt"),
            },
        };
        let data_dir = std::path::absolute(data_dir)?;

        let mut module_paths: Vec<PathBuf> =
            std::env::var(env::MODULE_PATH).map(|v| split_paths(&v)).unwrap_or_default();
        module_paths.extend(parsed.module_paths.iter().map(|p| resolve(p)));
        let mut library_paths: Vec<PathBuf> =
            std::env::var(env::LIBRARY_PATH).map(|v| split_paths(&v)).unwrap_or_default();
        library_paths.extend(parsed.library_paths.iter().map(|p| resolve(p)));

        let autostart = match std::env::var(env::AUTOSTART) {
            Ok(value) => parse_bool(env::AUTOSTART, &value)?,
            Err(_) => parsed.autostart.unwrap_or(true),
        };
        let log_level = std::env::var(env::LOG).ok().or(parsed.log_level).unwrap_or_else(|| "info".to_owned());
        for (name, overrides) in &parsed.modules {
            if !overrides.is_object() {
                anyhow::bail!(
                    "{}: modules.{name} must be a mapping of config keys, got {overrides}",
                    file.as_deref().unwrap_or(Path::new("config")).display()
                );
            }
        }
        let file_label = file.as_deref().unwrap_or(Path::new("config")).display().to_string();
        let bind = match std::env::var(env::HTTP_BIND) {
            Ok(value) => parse_bind(env::HTTP_BIND, &value)?,
            Err(_) => parse_bind(
                &format!("{file_label}: http.bind"),
                parsed.http.bind.as_deref().unwrap_or(DEFAULT_HTTP_BIND),
            )?,
        };
        let http = HttpConfig {
            bind,
            max_body_bytes: parsed.http.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES).max(1024),
            request_timeout: Duration::from_millis(parsed.http.request_timeout_ms.unwrap_or(30_000).max(1)),
            max_concurrent_requests: parsed.http.max_concurrent_requests.unwrap_or(256).max(1),
        };
        Ok(HostConfig {
            file,
            data_dir,
            log_level,
            autostart,
            call_timeout: Duration::from_millis(parsed.call_timeout_ms.unwrap_or(30_000)),
            cancel_grace: Duration::from_millis(parsed.cancel_grace_ms.unwrap_or(10_000)),
            event_queue_capacity: parsed.event_queue_capacity.unwrap_or(1024).max(1),
            max_request_bytes: parsed.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES).max(1024),
            module_paths,
            library_paths,
            disabled_modules: parsed.disabled_modules,
            module_overrides: parsed.modules,
            http,
        })
    }

    /// The name used for the config file in messages.
    pub fn file_name(&self) -> String {
        self.file.as_ref().map_or_else(|| "(no config file)".to_owned(), |f| f.display().to_string())
    }

    /// The Unix socket the host serves the CLI on.
    pub fn socket_path(&self) -> PathBuf {
        self.data_dir.join("host.sock")
    }

    /// The serving host's pid, written once its socket is bound and removed when it stops.
    pub fn pid_path(&self) -> PathBuf {
        self.data_dir.join("host.pid")
    }

    /// The lock file that makes one host per data dir.
    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("host.lock")
    }

    /// The HTTP address the serving host bound, written once it listens.
    pub fn http_addr_path(&self) -> PathBuf {
        self.data_dir.join("http.addr")
    }

    /// The host's log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bind;

    #[test]
    fn an_http_bind_is_a_loopback_address_localhost_or_off() {
        assert_eq!(parse_bind("b", "127.0.0.1:0").unwrap().unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(parse_bind("b", "[::1]:7420").unwrap().unwrap().to_string(), "[::1]:7420");
        assert_eq!(parse_bind("b", "localhost:8080").unwrap().unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_bind("b", "off").unwrap(), None);
    }

    #[test]
    fn a_network_address_is_refused_while_the_api_has_no_authentication() {
        let error = parse_bind("http.bind", "0.0.0.0:7420").unwrap_err().to_string();
        assert!(error.starts_with("http.bind is 0.0.0.0:7420, which is not a loopback address"), "{error}");
        let error = parse_bind("SYSTEMPROMPT_HTTP_BIND", "7420").unwrap_err().to_string();
        assert!(error.contains("must be an address and port such as 127.0.0.1:7420"), "{error}");
    }
}
