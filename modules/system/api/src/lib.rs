//! The typed API of the `system` module: the parameters and outputs of `system:health`,
//! `echo`, `sleep`, `fail`, `panic` and `emit`, so a caller writes
//! `host.call::<Echo>(&EchoParams { .. })` instead of JSON by hand.
//!
//! These types are the module's JSON interface, the same for the CLI and for other modules.
//! This crate holds no logic and depends only on the SDK's [`Command`] trait and serde, so
//! a caller links it without linking the module.

use serde::{Deserialize, Serialize};
use systemprompt_module_sdk::Command;

/// `system:health`: uptime and loaded modules.
pub enum Health {}

/// Parameters of [`Health`] (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthParams {}

/// The host's health as the system module sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthReport {
    /// Always `ok` when the module answers.
    pub status: String,
    /// Seconds since the system module started.
    pub uptime_secs: f64,
    /// The modules the host reports as loaded (from `host:modules`), when it answered.
    pub modules: Vec<String>,
}

impl Command for Health {
    const NAME: &'static str = "system:health";
    type Params = HealthParams;
    type Output = HealthReport;
}

/// `system:echo`: returns its message.
pub enum Echo {}

/// Parameters of [`Echo`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoParams {
    /// What to echo.
    #[serde(default)]
    pub message: String,
}

/// What [`Echo`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoOutput {
    /// The message, unchanged.
    pub message: String,
}

impl Command for Echo {
    const NAME: &'static str = "system:echo";
    type Params = EchoParams;
    type Output = EchoOutput;
}

/// `system:sleep`: waits, honouring cancellation.
pub enum Sleep {}

/// Parameters of [`Sleep`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepParams {
    /// How long to wait, in milliseconds.
    pub ms: u64,
    /// How long it takes to stop once cancelled, in milliseconds (a runner killing its
    /// child); 0 stops at once.
    #[serde(default)]
    pub stop_ms: u64,
}

/// What [`Sleep`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SleepOutput {
    /// How long it waited, in milliseconds.
    pub slept_ms: u64,
}

impl Command for Sleep {
    const NAME: &'static str = "system:sleep";
    type Params = SleepParams;
    type Output = SleepOutput;
}

/// `system:fail`: always fails with the given message.
pub enum Fail {}

/// Parameters of [`Fail`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailParams {
    /// The error message.
    #[serde(default)]
    pub message: Option<String>,
}

impl Command for Fail {
    const NAME: &'static str = "system:fail";
    type Params = FailParams;
    type Output = serde_json::Value;
}

/// `system:panic`: panics inside the handler (the host must live on).
pub enum Panic {}

/// Parameters of [`Panic`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanicParams {
    /// The panic message.
    #[serde(default)]
    pub message: Option<String>,
}

impl Command for Panic {
    const NAME: &'static str = "system:panic";
    type Params = PanicParams;
    type Output = serde_json::Value;
}

/// `system:emit --event <name> --payload <json>`: publishes an event from the system
/// module, so tests and scripts can drive event subscribers.
pub enum Emit {}

/// Parameters of [`Emit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitParams {
    /// The event's local name (subscribers see `system:<event>`).
    pub event: String,
    /// Its payload.
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl Command for Emit {
    const NAME: &'static str = "system:emit";
    type Params = EmitParams;
    type Output = serde_json::Value;
}
