//! JSON documents exchanged through the ABI's byte slots (as opposed to command payloads).
//!
//! Both sides derive them from these definitions; unknown fields are ignored so either side
//! may add optional fields without an ABI bump.

use serde::{Deserialize, Serialize};

/// What the host passes to a module's `init`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitRequest {
    /// The module's config: `module.yaml` defaults merged with overrides.
    pub config: serde_json::Value,
    /// The host's data directory.
    pub data_dir: String,
    /// The most verbose level the host records (`error` … `trace`).
    #[serde(default = "default_log_level")]
    pub log_level: String,
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// What a module's `describe` replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DescribeResponse {
    /// The module's name.
    pub name: String,
    /// Every command the library implements.
    pub commands: Vec<String>,
}
