//! Configuration: defaults, unknown keys and wrong types named in errors.

use std::path::Path;

use systemprompt_module_sdk::manifest::Manifest;

use crate::config::{ConfigError, SchedulerConfig};
use crate::store::{Location, StoreError};

/// The `config:` block of `modules/scheduler/module.yaml`, as the host reads it.
fn manifest_config() -> serde_json::Map<String, serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("module.yaml");
    let text = std::fs::read_to_string(&path).expect("read module.yaml");
    let manifest = Manifest::parse("module.yaml", &text).expect("module.yaml parses");
    manifest.config.as_object().cloned().expect("config: is a mapping")
}

/// The keys `SchedulerConfig` reads, as serde names them (captured from its `Deserialize`).
fn config_keys() -> Vec<&'static str> {
    struct Fields(Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("only structs"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields.to_vec();
            Err(serde::de::Error::custom("fields captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(Vec::new());
    let _ = <SchedulerConfig as serde::Deserialize>::deserialize(&mut fields);
    fields.0
}

#[test]
fn defaults_match_the_module_manifest() {
    let manifest = manifest_config();
    let mut documented: Vec<&str> = manifest.keys().map(String::as_str).collect();
    let mut known = config_keys();
    documented.sort_unstable();
    known.sort_unstable();
    assert!(known.len() >= 19, "captured only {known:?}");
    assert_eq!(documented, known, "module.yaml's config: must list every key SchedulerConfig reads, and no other");
    for (key, value) in &manifest {
        let single = serde_json::Value::Object(std::iter::once((key.clone(), value.clone())).collect());
        let config = SchedulerConfig::from_json(&single).expect("a manifest value is valid");
        assert_eq!(config, SchedulerConfig::default(), "module.yaml's {key}: {value} is not the default");
    }
    let whole =
        SchedulerConfig::from_json(&serde_json::Value::Object(manifest)).expect("the manifest's config is valid");
    assert_eq!(whole, SchedulerConfig::default());
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
    let location = Location::from_config(config.database_path.as_deref(), Path::new("/data")).expect("a path");
    assert_eq!(location, Location::Sqlite("/data/x.db".into()));
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
    let location = Location::from_config(config.database_path.as_deref(), Path::new("/var/lib/sp")).expect("default");
    assert_eq!(location, Location::Sqlite("/var/lib/sp/scheduler.db".into()));
}

fn location(configured: &str) -> Result<Location, StoreError> {
    Location::from_config(Some(Path::new(configured)), Path::new("/data"))
}

#[test]
fn a_sqlite_url_or_a_path_opens_sqlite_relative_to_the_data_dir() {
    assert_eq!(location("sqlite:jobs.db").expect("url"), Location::Sqlite("/data/jobs.db".into()));
    assert_eq!(location("sqlite:///srv/jobs.db").expect("url"), Location::Sqlite("/srv/jobs.db".into()));
    assert_eq!(location("/srv/jobs.db").expect("path"), Location::Sqlite("/srv/jobs.db".into()));
    let error = location("sqlite:").expect_err("no file");
    assert_eq!(error.to_string(), "'sqlite:' names no SQLite file");
}

#[test]
fn a_postgres_url_is_refused_as_not_built_in_this_version_without_showing_its_password() {
    let url = location("postgres://sched:hunter2@db.example/jobs").expect("a postgres location");
    assert_eq!(url, Location::Postgres("postgres://sched:hunter2@db.example/jobs".into()));
    let error = crate::store::open(&url).err().expect("refused");
    assert!(matches!(error, StoreError::Unsupported(_)), "{error}");
    let message = error.to_string();
    assert!(message.starts_with("the PostgreSQL store is not built in this version"), "{message}");
    assert!(message.contains("postgres://sched:***@db.example/jobs") && !message.contains("hunter2"), "{message}");
}

#[test]
fn an_unknown_database_scheme_is_refused_naming_it() {
    let error = location("mysql://db/jobs").expect_err("unknown");
    assert!(error.to_string().starts_with("unknown database scheme 'mysql'"), "{error}");
}
