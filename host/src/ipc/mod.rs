//! How the CLI reaches a running host: newline-delimited JSON over a Unix socket in the data
//! dir (`host.sock`, mode 0600 in a `0700` data dir, so the file system is the access
//! control; the CLI also checks the listener's peer credentials before sending).
//!
//! One request per line, one response line per request, in order:
//!
//! ```text
//! → {"command":"system:echo","payload":{"message":"hi"},"timeout_ms":30000}
//! ← {"ok":true,"result":{"message":"hi"}}
//! ← {"ok":false,"error":{"code":"unknown_command","message":"…"}}
//! ```
//!
//! A line longer than the host's `max_request_bytes`, or not UTF-8, or not a request, is
//! answered with an `invalid_params` error; the connection serves the next line.

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};
use systemprompt_module_sdk::CommandError;

/// One request line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Full command name.
    pub command: String,
    /// JSON payload.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Deadline in milliseconds; absent uses the command's or the host's default.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Ties this call to other work.
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// One response line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Whether the command succeeded.
    pub ok: bool,
    /// The result, when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The error, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
}
