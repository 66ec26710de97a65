//! A module's effective config: `module.yaml` defaults, then the overrides in the host's
//! config file, then `SYSTEMPROMPT__<MODULE>__<KEY>` environment variables.
//!
//! The defaults are the schema: an override must use a key the defaults have, with the
//! same JSON type (a `null` default accepts any type). Errors name the file or variable and
//! the key.

use serde_json::{Map, Value};

use crate::config::env::MODULE_OVERRIDE_PREFIX;

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn same_type(default: &Value, value: &Value) -> bool {
    match (default, value) {
        (Value::Null, _) => true,
        (Value::Number(d), Value::Number(v)) => d.is_f64() || !v.is_f64(),
        _ => std::mem::discriminant(default) == std::mem::discriminant(value),
    }
}

fn normalise(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

fn known_keys(defaults: &Map<String, Value>) -> String {
    if defaults.is_empty() {
        return "the module takes no config keys".to_owned();
    }
    let mut keys: Vec<&str> = defaults.keys().map(String::as_str).collect();
    keys.sort_unstable();
    format!("known keys: {}", keys.join(", "))
}

fn apply(
    merged: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    key: &str,
    value: Value,
    origin: &str,
) -> Result<(), String> {
    let Some(default) = defaults.get(key) else {
        return Err(format!("{origin}: unknown key '{key}' ({})", known_keys(defaults)));
    };
    if !same_type(default, &value) {
        return Err(format!(
            "{origin}: '{key}' must be {} like its default {default}, got {value}",
            type_name(default)
        ));
    }
    merged.insert(key.to_owned(), value);
    Ok(())
}

/// Parses an environment value with the type of the default it overrides.
fn parse_env_value(default: &Value, raw: &str) -> Value {
    match default {
        Value::String(_) => Value::String(raw.to_owned()),
        _ => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())),
    }
}

/// Merges the layers for `module`.
pub(crate) fn merge(
    module: &str,
    defaults: &Value,
    overrides: Option<&Value>,
    config_file: &str,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<Value, String> {
    let empty = Map::new();
    let defaults = defaults.as_object().unwrap_or(&empty);
    let mut merged = defaults.clone();
    if let Some(Value::Object(overrides)) = overrides {
        for (key, value) in overrides {
            apply(&mut merged, defaults, key, value.clone(), &format!("{config_file}: modules.{module}"))?;
        }
    }
    let prefix = format!("{MODULE_OVERRIDE_PREFIX}{}__", module.to_ascii_uppercase().replace('-', "_"));
    for (name, raw) in environment {
        let Some(env_key) = name.strip_prefix(&prefix) else {
            continue;
        };
        let wanted = normalise(env_key);
        let Some(key) = defaults.keys().find(|k| normalise(k) == wanted).cloned() else {
            return Err(format!(
                "environment variable {name}: module {module} has no config key '{env_key}' ({})",
                known_keys(defaults)
            ));
        };
        let value = parse_env_value(&defaults[&key], &raw);
        apply(&mut merged, defaults, &key, value, &format!("environment variable {name}"))?;
    }
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge;

    fn defaults() -> serde_json::Value {
        json!({"tickInterval": 1000, "databasePath": null, "name": "x"})
    }

    #[test]
    fn file_overrides_then_environment_overrides_apply_in_order() {
        let merged = merge(
            "scheduler",
            &defaults(),
            Some(&json!({"tickInterval": 500})),
            "config/systemprompt.yaml",
            [("SYSTEMPROMPT__SCHEDULER__TICK_INTERVAL".to_owned(), "250".to_owned())],
        )
        .unwrap();
        assert_eq!(merged["tickInterval"], 250);
    }

    #[test]
    fn an_unknown_key_names_the_file_and_the_key() {
        let error = merge("scheduler", &defaults(), Some(&json!({"tick": 5})), "c.yaml", []).unwrap_err();
        assert_eq!(
            error,
            "c.yaml: modules.scheduler: unknown key 'tick' (known keys: databasePath, name, tickInterval)"
        );
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_expected_type() {
        let error = merge("scheduler", &defaults(), Some(&json!({"tickInterval": "fast"})), "c.yaml", []).unwrap_err();
        assert_eq!(
            error,
            "c.yaml: modules.scheduler: 'tickInterval' must be an integer like its default 1000, got \"fast\""
        );
    }

    #[test]
    fn a_wrong_environment_value_names_the_variable() {
        let env = [("SYSTEMPROMPT__SCHEDULER__TICKINTERVAL".to_owned(), "soon".to_owned())];
        let error = merge("scheduler", &defaults(), None, "c.yaml", env).unwrap_err();
        assert!(
            error.starts_with("environment variable SYSTEMPROMPT__SCHEDULER__TICKINTERVAL: 'tickInterval' must be"),
            "{error}"
        );
    }

    #[test]
    fn a_null_default_accepts_any_type() {
        let merged =
            merge("scheduler", &defaults(), Some(&json!({"databasePath": "/tmp/x.db"})), "c.yaml", []).unwrap();
        assert_eq!(merged["databasePath"], "/tmp/x.db");
    }
}
