//! Configuration: defaults, unknown keys and wrong types named in errors.

use std::path::Path;

use crate::config::{ConfigError, SchedulerConfig};

#[test]
fn defaults_match_the_module_manifest() {
    let config = SchedulerConfig::from_json(&serde_json::json!({})).expect("empty is fine");
    assert_eq!(config.max_concurrent_tasks, 100);
    assert_eq!(config.default_retries, 3);
    assert_eq!(config.retry_delay, 5_000);
    assert_eq!(config.tick_interval, 1_000);
    assert_eq!(config.task_timeout, 3_600_000);
    assert_eq!(config.cleanup_interval, 3_600_000);
    assert_eq!(config.history_retention_days, 30);
    assert_eq!(config, SchedulerConfig::default());
}

#[test]
fn camel_case_keys_override_defaults() {
    let config = SchedulerConfig::from_json(&serde_json::json!({
        "maxConcurrentTasks": 7, "retryBackoff": "fixed", "nodeId": "n1", "databasePath": "x.db"
    }))
    .expect("valid");
    assert_eq!(config.max_concurrent_tasks, 7);
    assert_eq!(config.retry_backoff, crate::task::BackoffKind::Fixed);
    assert_eq!(config.node_id, "n1");
    assert_eq!(config.database_path(Path::new("/data")), Path::new("/data/x.db"));
}

#[test]
fn an_unknown_key_is_an_error_naming_the_key() {
    let error = SchedulerConfig::from_json(&serde_json::json!({"tickIntervall": 5})).expect_err("unknown key");
    assert_eq!(error, ConfigError::InvalidKey { key: "tickIntervall".to_owned(), message: "unknown key".to_owned() });
    assert_eq!(error.to_string(), "scheduler config key 'tickIntervall': unknown key");
}

#[test]
fn a_wrong_type_is_an_error_naming_the_key() {
    let error = SchedulerConfig::from_json(&serde_json::json!({"retryDelay": "5s"})).expect_err("wrong type");
    let ConfigError::InvalidKey { key, message } = error else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!(key, "retryDelay");
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn an_out_of_range_value_is_refused() {
    let error = SchedulerConfig::from_json(&serde_json::json!({"maxConcurrentTasks": 0})).expect_err("zero");
    assert_eq!(error.to_string(), "scheduler config key 'maxConcurrentTasks': must be at least 1");
}

#[test]
fn the_database_path_defaults_to_the_data_dir() {
    let config = SchedulerConfig::default();
    assert_eq!(config.database_path(Path::new("/var/lib/sp")), Path::new("/var/lib/sp/scheduler.db"));
}
