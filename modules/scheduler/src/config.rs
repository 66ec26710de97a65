//! The scheduler's configuration, read from the module's JSON config object.
//!
//! Keys are camelCase (as in `module.yaml`), every key has a default, unknown keys and
//! wrong types are errors that name the key (the host adds the file name). Durations are
//! milliseconds. Nothing here touches the disk: `databasePath` is resolved into a store
//! location by `store::Location::from_config`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::task::{BackoffKind, TaskDefaults};

/// Why a configuration object was refused. Permanent: fix the config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key is unknown, or its value has the wrong type.
    ///
    /// # Resolution
    /// Fix or remove the key named in the message.
    #[error("scheduler config key '{key}': {message}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The config is not a JSON object.
    #[error("scheduler config must be an object: {0}")]
    NotAnObject(String),
    /// A value is out of its allowed range.
    #[error("scheduler config key '{key}': {message}")]
    OutOfRange {
        /// The offending key.
        key: &'static str,
        /// The rule it breaks.
        message: &'static str,
    },
}

/// Scheduler configuration (`config:` of `modules/scheduler/module.yaml`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SchedulerConfig {
    /// Most executions running at once on this engine.
    pub max_concurrent_tasks: usize,
    /// Retries a new task gets when it does not say.
    pub default_retries: u32,
    /// Base delay before a retry, in milliseconds.
    pub retry_delay: u64,
    /// `exponential` (delay doubles per attempt, capped) or `fixed`; the default for new tasks.
    pub retry_backoff: BackoffKind,
    /// Cap for exponential backoff, in milliseconds.
    pub retry_delay_max: u64,
    /// Spread each retry delay uniformly over `[delay/2, delay]`.
    pub retry_jitter: bool,
    /// Longest sleep of the engine between claims, in milliseconds (it also wakes at the
    /// earliest due time).
    pub tick_interval: u64,
    /// Default task timeout, in milliseconds.
    pub task_timeout: u64,
    /// How often old history is deleted, in milliseconds.
    pub cleanup_interval: u64,
    /// Executions and logs older than this many days are deleted.
    pub history_retention_days: u32,
    /// An occurrence later than this (ms) when claimed counts as missed and follows the
    /// task's misfire policy.
    pub misfire_grace: u64,
    /// The most catch-up runs the `run_all` misfire policy starts for one task.
    pub misfire_run_all_limit: u32,
    /// Claim idle tasks up to this long (ms) before they are due, so their executions start
    /// on the instant even when the database is busy; 0 claims only what is due.
    pub claim_ahead: u64,
    /// How long `stop` waits for running executions before cancelling them (ms).
    pub shutdown_grace: u64,
    /// The SQLite file; default `<data_dir>/scheduler.db`.
    pub database_path: Option<PathBuf>,
    /// This engine's name in execution rows. Two live engines on one database must use
    /// different ids; a restarted engine must reuse its id to recover its runs.
    pub node_id: String,
    /// Most bytes a task's `data` may take as JSON text. Each run copies it into its
    /// execution and audit rows, so a large payload on a frequent task grows the database
    /// fast; create and update refuse more.
    pub max_task_data_bytes: usize,
    /// Most bytes of a command's output stored per execution (JSON text). A larger output
    /// is stored as `{"truncated": "...", "bytes": N, "head": "<first bytes of the text>"}`;
    /// a longer error text keeps its start and ends with a `[truncated: …]` marker.
    pub max_output_bytes: usize,
    /// Most bytes of one audit row's details. Larger details keep only the parameter names,
    /// with a `truncated` marker.
    pub max_audit_detail_bytes: usize,
}

impl Default for SchedulerConfig {
    fn default() -> SchedulerConfig {
        SchedulerConfig {
            max_concurrent_tasks: 100,
            default_retries: 3,
            retry_delay: 5_000,
            retry_backoff: BackoffKind::Exponential,
            retry_delay_max: 300_000,
            retry_jitter: false,
            tick_interval: 1_000,
            task_timeout: 3_600_000,
            cleanup_interval: 3_600_000,
            history_retention_days: 30,
            misfire_grace: 60_000,
            misfire_run_all_limit: 100,
            claim_ahead: 500,
            shutdown_grace: 30_000,
            database_path: None,
            node_id: "local".to_owned(),
            max_task_data_bytes: 65_536,
            max_output_bytes: 65_536,
            max_audit_detail_bytes: 4_096,
        }
    }
}

impl SchedulerConfig {
    /// Reads the config object; absent keys take their defaults.
    pub fn from_json(value: &serde_json::Value) -> Result<SchedulerConfig, ConfigError> {
        let object = value.as_object().ok_or_else(|| ConfigError::NotAnObject(value.to_string()))?;
        // serde_json errors do not carry the path, so each key is checked on its own first:
        // an error then belongs to that key.
        for (key, item) in object {
            let single = serde_json::Value::Object(std::iter::once((key.clone(), item.clone())).collect());
            if let Err(error) = serde_json::from_value::<SchedulerConfig>(single) {
                let message = error.to_string();
                let message = if message.starts_with("unknown field") { "unknown key".to_owned() } else { message };
                return Err(ConfigError::InvalidKey { key: key.clone(), message });
            }
        }
        let config: SchedulerConfig = serde_json::from_value(value.clone())
            .map_err(|error| ConfigError::InvalidKey { key: String::new(), message: error.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges that types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rules: [(&'static str, bool, &'static str); 8] = [
            ("maxConcurrentTasks", self.max_concurrent_tasks >= 1, "must be at least 1"),
            ("tickInterval", self.tick_interval >= 1, "must be at least 1 ms"),
            ("taskTimeout", self.task_timeout >= 1, "must be at least 1 ms"),
            ("cleanupInterval", self.cleanup_interval >= 1, "must be at least 1 ms"),
            ("nodeId", !self.node_id.is_empty(), "must not be empty"),
            ("maxTaskDataBytes", self.max_task_data_bytes >= 2, "must be at least 2 (the bytes of '{}')"),
            ("maxOutputBytes", self.max_output_bytes >= 256, "must be at least 256 bytes"),
            ("maxAuditDetailBytes", self.max_audit_detail_bytes >= 256, "must be at least 256 bytes"),
        ];
        for (key, ok, message) in rules {
            if !ok {
                return Err(ConfigError::OutOfRange { key, message });
            }
        }
        Ok(())
    }

    /// The defaults a new task takes for what it does not set.
    pub fn task_defaults(&self) -> TaskDefaults {
        TaskDefaults {
            retries: self.default_retries,
            retry_delay: Duration::from_millis(self.retry_delay),
            retry_backoff: self.retry_backoff,
            timeout: Duration::from_millis(self.task_timeout),
        }
    }

    /// [`Self::tick_interval`] as a duration.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_interval)
    }
}
