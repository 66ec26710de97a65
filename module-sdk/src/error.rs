//! The one error type that crosses the bus: a stable code, a message for people, and
//! optional JSON details.
//!
//! Codes are part of the stable interface (CLI exit codes, REST statuses and retry policy
//! depend on them); add new ones, never rename.

use serde::{Deserialize, Serialize};

/// Stable error codes. Each says whether retrying can help.
pub mod code {
    /// No module owns the command. Permanent.
    pub const UNKNOWN_COMMAND: &str = "unknown_command";
    /// The payload does not match the command's parameters. Permanent.
    pub const INVALID_PARAMS: &str = "invalid_params";
    /// The handler did not finish before the caller's deadline. Transient.
    pub const TIMEOUT: &str = "timeout";
    /// The caller or the host cancelled the call. Transient.
    pub const CANCELLED: &str = "cancelled";
    /// The handler panicked; the module lives on. Transient.
    pub const PANIC: &str = "panic";
    /// The handler ran and reported a failure. Transient unless the handler says otherwise.
    pub const FAILED: &str = "failed";
    /// An object named in the request does not exist. Permanent.
    pub const NOT_FOUND: &str = "not_found";
    /// The request conflicts with the current state (duplicate name, overlap). Permanent.
    pub const CONFLICT: &str = "conflict";
    /// The module is not running (not started, stopping, or failed to start). Transient.
    pub const UNAVAILABLE: &str = "unavailable";
    /// A bug or broken invariant on the host or module side. Transient.
    pub const INTERNAL: &str = "internal";
}

/// An error result of a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// One of [`code`], or a module-specific code in snake_case.
    pub code: String,
    /// One line for people, stating the rule that was broken.
    pub message: String,
    /// Machine-readable context (e.g. close matches for an unknown command, or a runner's
    /// exit code and output summary, which the scheduler keeps as the execution's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// The handler's word on retrying: `None` leaves it to the code and the caller's
    /// policy (the scheduler retries a failure by the task's retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryHint>,
}

/// What a handler says about retrying a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryHint {
    /// Retrying cannot help (a program that does not exist, an exit code the task lists as
    /// permanent, an HTTP 404): the scheduler records the failure and does not retry.
    Never,
    /// Retry, but not before this many milliseconds (an HTTP `Retry-After`): the scheduler
    /// waits at least this long, or its own backoff when that is longer.
    AfterMs(u64),
}

impl CommandError {
    /// An error with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError { code: code.into(), message: message.into(), details: None, retry: None }
    }

    /// Attaches machine-readable details.
    pub fn with_details(mut self, details: serde_json::Value) -> CommandError {
        self.details = Some(details);
        self
    }

    /// Marks the error as one that retrying cannot help ([`RetryHint::Never`]).
    pub fn permanent(mut self) -> CommandError {
        self.retry = Some(RetryHint::Never);
        self
    }

    /// Asks a retry to wait at least `delay` ([`RetryHint::AfterMs`]).
    pub fn retry_after(mut self, delay: std::time::Duration) -> CommandError {
        self.retry = Some(RetryHint::AfterMs(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)));
        self
    }

    /// True when the handler said retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        self.retry == Some(RetryHint::Never)
    }

    /// A handler failure (`failed`).
    pub fn failed(message: impl Into<String>) -> CommandError {
        CommandError::new(code::FAILED, message)
    }

    /// Parameters that do not fit (`invalid_params`).
    pub fn invalid_params(message: impl Into<String>) -> CommandError {
        CommandError::new(code::INVALID_PARAMS, message)
    }

    /// A named object that does not exist (`not_found`).
    pub fn not_found(message: impl Into<String>) -> CommandError {
        CommandError::new(code::NOT_FOUND, message)
    }

    /// A conflict with the current state (`conflict`).
    pub fn conflict(message: impl Into<String>) -> CommandError {
        CommandError::new(code::CONFLICT, message)
    }

    /// A broken invariant (`internal`).
    pub fn internal(message: impl Into<String>) -> CommandError {
        CommandError::new(code::INTERNAL, message)
    }

    /// True when this error has the given code.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// Encodes the error for the wire. Never fails: the fields are plain strings and JSON.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"code":"internal","message":"unencodable error"}"#.to_vec())
    }

    /// Decodes a wire error; bytes that are not a `CommandError` become an `internal` error
    /// carrying them as text.
    pub fn from_json_bytes(bytes: &[u8]) -> CommandError {
        serde_json::from_slice(bytes).unwrap_or_else(|_| {
            CommandError::internal(format!("malformed error payload: {}", String::from_utf8_lossy(bytes)))
        })
    }
}

/// An error from a module's `init` or `start`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

impl ModuleError {
    /// Builds an error from anything printable.
    pub fn new(message: impl std::fmt::Display) -> ModuleError {
        ModuleError(message.to_string())
    }
}
