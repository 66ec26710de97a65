//! Input rules shared by `scheduler:create` and `scheduler:update`. Each helper turns one
//! parameter into its domain value or an `invalid_params` error whose one-line message
//! names the parameter and the rule, so the handlers validate everything before they
//! write anything.
//!
//! The rules:
//! - `name`, `tenant`: 1 to 128 characters, no control or invisible formatting characters
//!   (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069, U+FEFF, ...), no leading or trailing
//!   whitespace. A tenant filter (`--tenant` of list, pause, resume, get, ...) follows the
//!   tenant rule too.
//! - `command`: `namespace:command`, declared by a loaded module ([`command_declared`]);
//!   when that module routes `<namespace>:check-task`, it accepts the task's data
//!   ([`task_accepted`], the `scheduler_api::logs::CHECK_TASK` convention).
//! - `exec` and `url` ([`target`]): shorthands for `shell:run` (the command line split
//!   shell-words style into `program` and `args`) and `http:request` (`url`, `method`);
//!   exactly one of `command`, `exec` and `url`; `data` adds the command's other fields and
//!   may not repeat the ones the shorthand sets.
//! - `schedule` and `timezone`: whatever the schedule language accepts; its message is
//!   passed on.
//! - `data`: a JSON object, or absent (then `{}`); `null` counts as absent; at most
//!   `maxTaskDataBytes` (default 64 KiB) as JSON text.
//! - `retries` 0 to 100; `retry_delay_ms` 0 to one day; `timeout_ms` 1 ms to one day.
//!
//! Nothing here touches the store.

use std::time::Duration;

use scheduler_api::logs::{CHECK_TASK, CheckTaskParams};
use scheduler_schedule::ScheduleKind;
use systemprompt_module_sdk::host_commands::{CommandLookup, LookUpCommand, LookUpCommandParams};
use systemprompt_module_sdk::{Call, CallOptions, Command, CommandError, Host};

use crate::task::TaskSchedule;

/// Most characters in a task name or tenant.
pub(crate) const MAX_NAME_CHARS: usize = 128;
/// Most retries a task may have.
pub(crate) const MAX_RETRIES: i64 = 100;
/// Longest retry delay and timeout, in milliseconds (one day).
pub(crate) const MAX_DURATION_MS: i64 = 86_400_000;

/// Whether `c` is a control character or an invisible formatting character: the Unicode
/// format characters (general category Cf: zero-width spaces and joiners, bidirectional
/// embeddings, overrides and isolates, the byte order mark, ...) and the line and paragraph
/// separators. They make two different names look alike, or make a name display as another
/// (U+202E turns `exe.txt` into `txt.exe`), so a name or tenant never holds one.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            u32::from(c),
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x180E
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
        )
}

fn label(field: &str, value: &str) -> Result<String, CommandError> {
    let chars = value.chars().count();
    if chars == 0 {
        return Err(CommandError::invalid_params(format!("{field} must not be empty")));
    }
    if chars > MAX_NAME_CHARS {
        return Err(CommandError::invalid_params(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters, got {chars}"
        )));
    }
    if let Some((index, c)) = value.chars().enumerate().find(|(_, c)| invisible(*c)) {
        return Err(CommandError::invalid_params(format!(
            "{field} must not contain control or invisible formatting characters (they hide or \
             reorder what is shown), got U+{:04X} at character {}",
            u32::from(c),
            index + 1
        )));
    }
    if value.trim() != value {
        return Err(CommandError::invalid_params(format!(
            "{field} must not start or end with whitespace, got '{value}'"
        )));
    }
    Ok(value.to_owned())
}

/// A task name.
pub(crate) fn name(value: &str) -> Result<String, CommandError> {
    label("name", value)
}

/// A tenant; `default` when absent.
pub(crate) fn tenant(value: Option<&str>) -> Result<String, CommandError> {
    label("tenant", value.unwrap_or(crate::task::DEFAULT_TENANT))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A tenant filter (`list`, `pause`, `resume`, lookups by name): absent means every tenant
/// (or `default` for a lookup), given it follows the same rule as a task's tenant, so
/// `--tenant ''` is refused everywhere as it is by `create`.
pub(crate) fn tenant_filter(value: Option<&str>) -> Result<Option<String>, CommandError> {
    value.map(|tenant| label("tenant", tenant)).transpose()
}

/// A task's payload: a JSON object of at most `max_bytes` bytes as JSON text (config
/// `maxTaskDataBytes`), or `None` when absent or `null`.
pub(crate) fn data(
    value: Option<serde_json::Value>,
    max_bytes: usize,
) -> Result<Option<serde_json::Value>, CommandError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(object @ serde_json::Value::Object(_)) => {
            let bytes = serde_json::to_string(&object).map_or(usize::MAX, |text| text.len());
            if bytes > max_bytes {
                return Err(CommandError::invalid_params(format!(
                    "data must be at most {max_bytes} bytes as JSON (scheduler config maxTaskDataBytes; \
                     every run copies it), got {bytes} bytes"
                )));
            }
            Ok(Some(object))
        }
        Some(other) => Err(CommandError::invalid_params(format!(
            "data must be a JSON object (the command's parameters), got {}",
            json_kind(&other)
        ))),
    }
}

fn in_range(field: &str, value: i64, min: i64, max: i64, unit: &str) -> Result<u64, CommandError> {
    if value < min || value > max {
        return Err(CommandError::invalid_params(format!(
            "{field} must be between {min} and {max}{unit}, got {value}"
        )));
    }
    u64::try_from(value).map_err(|_| CommandError::invalid_params(format!("{field} must not be negative, got {value}")))
}

/// Retries after a failed attempt.
pub(crate) fn retries(value: i64) -> Result<u32, CommandError> {
    let n = in_range("retries", value, 0, MAX_RETRIES, "")?;
    u32::try_from(n).map_err(|_| CommandError::invalid_params(format!("retries is too large, got {value}")))
}

/// The base retry delay.
pub(crate) fn retry_delay(value: i64) -> Result<Duration, CommandError> {
    in_range("retry_delay_ms", value, 0, MAX_DURATION_MS, " ms (one day)").map(Duration::from_millis)
}

/// The time limit of one attempt.
pub(crate) fn timeout(value: i64) -> Result<Duration, CommandError> {
    in_range("timeout_ms", value, 1, MAX_DURATION_MS, " ms (one day)").map(Duration::from_millis)
}

/// Parses a schedule; `kind` forces one (`--once`), `anchor` is when intervals start.
pub(crate) fn schedule(
    text: &str,
    timezone: Option<String>,
    kind: Option<ScheduleKind>,
    anchor: jiff::Timestamp,
) -> Result<TaskSchedule, CommandError> {
    TaskSchedule::parse(text, timezone, kind, anchor).map_err(|error| {
        let mut refused = super::common::schedule_error(&error);
        if error.kind() != scheduler_schedule::ScheduleErrorKind::UnknownTimeZone {
            refused.message = format!("invalid schedule: {}", refused.message);
        }
        refused
    })
}

/// The shape of a bus command name: `namespace:command`, neither part empty.
pub(crate) fn command_name(value: &str) -> Result<String, CommandError> {
    let shaped = value
        .split_once(':')
        .is_some_and(|(namespace, command)| !namespace.is_empty() && !command.is_empty() && !command.contains(':'));
    if !shaped || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CommandError::invalid_params(format!(
            "command must be a bus command 'namespace:command', got '{value}'"
        )));
    }
    Ok(value.to_owned())
}

/// Whether a module of the host declares `command`, asked through the host's typed
/// `host:command` lookup (every loaded module's commands, whatever its state). The host's
/// own `host:*` commands are not a module's, so they cannot be scheduled.
pub(crate) async fn command_declared(host: &Host, command: &str, call: &Call<'_>) -> Result<(), CommandError> {
    let lookup = look_up(host, command, call, &format!("that command '{command}' exists")).await?;
    declared(command, &lookup)
}

/// Asks the host's `host:command` lookup about `name`; a lookup that fails is `unavailable`,
/// saying what could not be checked (`what`).
async fn look_up(host: &Host, name: &str, call: &Call<'_>, what: &str) -> Result<CommandLookup, CommandError> {
    let params = LookUpCommandParams { name: name.to_owned() };
    host.call_with::<LookUpCommand>(&params, &CallOptions::on_behalf_of(call)).await.map_err(|error| {
        CommandError::new(
            systemprompt_module_sdk::error::code::UNAVAILABLE,
            format!("cannot check {what}: {} failed: {error}", LookUpCommand::NAME),
        )
    })
}

/// What a task runs, as given: a bus command, or one of the shorthands.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Target<'a> {
    /// `--command`.
    pub(crate) command: Option<&'a str>,
    /// `--exec`: a command line for `shell:run`.
    pub(crate) exec: Option<&'a str>,
    /// `--url`: a URL for `http:request`.
    pub(crate) url: Option<&'a str>,
    /// `--method` of `--url`.
    pub(crate) method: Option<&'a str>,
}

/// The command and data `target` stands for: the command as given, or the shorthand's
/// command with its fields merged into `data` (an object, already checked by [`data`]).
pub(crate) fn target(
    target: &Target<'_>,
    data: Option<serde_json::Value>,
) -> Result<(String, Option<serde_json::Value>), CommandError> {
    let given = [target.command.is_some(), target.exec.is_some(), target.url.is_some()];
    if given.iter().filter(|given| **given).count() != 1 {
        return Err(CommandError::invalid_params(
            "give exactly one of command (a bus command), exec (a program and its arguments) or url",
        ));
    }
    if target.method.is_some() && target.url.is_none() {
        return Err(CommandError::invalid_params("method goes with url (the HTTP method of the request)"));
    }
    let mut fields = serde_json::Map::new();
    let (command, shorthand) = if let Some(line) = target.exec {
        let words = shell_words::split(line).map_err(|error| {
            CommandError::invalid_params(format!(
                "exec must be a command line with balanced quotes, split into words as a shell would \
                 (it is never run by one): {error}"
            ))
        })?;
        let Some((program, args)) = words.split_first() else {
            return Err(CommandError::invalid_params("exec must name a program, e.g. --exec 'df -h /'"));
        };
        fields.insert("program".to_owned(), program.as_str().into());
        fields.insert("args".to_owned(), args.into());
        (shell_api::Run::NAME, "exec")
    } else if let Some(url) = target.url {
        fields.insert("url".to_owned(), url.into());
        fields.insert("method".to_owned(), target.method.unwrap_or("GET").to_ascii_uppercase().into());
        (http_api::Request::NAME, "url")
    } else {
        return Ok((target.command.unwrap_or_default().to_owned(), data));
    };
    let mut merged = match data {
        Some(serde_json::Value::Object(object)) => object,
        _ => serde_json::Map::new(),
    };
    let taken = ["program", "args", "script", "url", "method"];
    if let Some(key) = taken.iter().find(|key| merged.contains_key(**key)) {
        return Err(CommandError::invalid_params(format!(
            "data must not set '{key}' when {shorthand} is given ({shorthand} says what the task runs)"
        )));
    }
    merged.extend(fields);
    Ok((command.to_owned(), Some(serde_json::Value::Object(merged))))
}

/// Whether the task may be written: its command is declared ([`command_declared`]) and,
/// when the command's module routes `<namespace>:check-task`, the module accepts the data.
/// The module's refusal is passed on as it is (it states the rule); a check that cannot be
/// made refuses the task too, so nothing is written that the module never saw.
pub(crate) async fn task_accepted(
    host: &Host,
    command: &str,
    data: &serde_json::Value,
    call: &Call<'_>,
) -> Result<(), CommandError> {
    command_declared(host, command, call).await?;
    let Some((namespace, _)) = command.split_once(':') else {
        return Ok(());
    };
    let check = format!("{namespace}:{CHECK_TASK}");
    if check == command {
        return Ok(());
    }
    if !look_up(host, &check, call, "the task's data").await?.is_module_command() {
        return Ok(());
    }
    let options = CallOptions::on_behalf_of(call);
    let params = CheckTaskParams { command: command.to_owned(), data: data.clone() };
    let params = serde_json::to_value(&params)
        .map_err(|error| CommandError::internal(format!("{check}: the task is not JSON: {error}")))?;
    host.dispatch(&check, &params, &options).await.map(|_| ())
}

/// The rule behind [`command_declared`]: a module must answer `command`. The refusal names
/// the close matches the host suggests, or points at the list of commands.
fn declared(command: &str, lookup: &CommandLookup) -> Result<(), CommandError> {
    if lookup.is_module_command() {
        return Ok(());
    }
    let hint = if lookup.suggestions.is_empty() {
        "see `systemprompt modules`".to_owned()
    } else {
        format!("did you mean {}?", lookup.suggestions.join(" or "))
    };
    Err(CommandError::invalid_params(format!("unknown command '{command}': no loaded module declares it ({hint})")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T, CommandError>) -> String {
        let error = result.expect_err("the value is refused");
        assert_eq!(error.code, "invalid_params", "{error:?}");
        error.message
    }

    #[test]
    fn names_are_trimmed_non_empty_and_bounded() {
        assert_eq!(name("backup").unwrap(), "backup");
        assert_eq!(message(name("")), "name must not be empty");
        assert_eq!(message(name(" backup")), "name must not start or end with whitespace, got ' backup'");
        assert_eq!(
            message(name("a\tb")),
            "name must not contain control or invisible formatting characters (they hide or reorder \
             what is shown), got U+0009 at character 2"
        );
        assert_eq!(message(name(&"x".repeat(129))), "name must be at most 128 characters, got 129");
        assert_eq!(name(&"é".repeat(128)).unwrap().chars().count(), 128);
    }

    #[test]
    fn the_tenant_defaults_to_default() {
        assert_eq!(tenant(None).unwrap(), "default");
        assert_eq!(message(tenant(Some(""))), "tenant must not be empty");
    }

    #[test]
    fn data_must_be_an_object_or_absent() {
        assert_eq!(data(None, 64).unwrap(), None);
        assert_eq!(data(Some(json!(null)), 64).unwrap(), None);
        assert_eq!(data(Some(json!({"a": 1})), 64).unwrap(), Some(json!({"a": 1})));
        assert_eq!(
            message(data(Some(json!([1])), 64)),
            "data must be a JSON object (the command's parameters), got an array"
        );
        assert_eq!(
            message(data(Some(json!("x")), 64)),
            "data must be a JSON object (the command's parameters), got a string"
        );
    }

    #[test]
    fn data_larger_than_the_configured_limit_is_refused_with_its_size_the_limit_and_the_key() {
        // `{"a":"xxxxxxxx"}` is 16 bytes.
        let exactly = json!({"a": "x".repeat(8)});
        assert_eq!(data(Some(exactly.clone()), 16).unwrap(), Some(exactly));
        assert_eq!(
            message(data(Some(json!({"a": "x".repeat(9)})), 16)),
            "data must be at most 16 bytes as JSON (scheduler config maxTaskDataBytes; every run \
             copies it), got 17 bytes"
        );
    }

    #[test]
    fn names_and_tenants_with_invisible_or_reordering_characters_are_refused_naming_the_character() {
        for (text, code, position) in [
            ("abc\u{202E}txt.exe", "U+202E", 4),
            ("\u{200B}backup", "U+200B", 1),
            ("back\u{200D}up", "U+200D", 5),
            ("x\u{2066}y\u{2069}", "U+2066", 2),
            ("\u{FEFF}bom", "U+FEFF", 1),
            ("soft\u{00AD}hyphen", "U+00AD", 5),
            ("line\u{2028}sep", "U+2028", 5),
        ] {
            let refused = message(name(text));
            assert!(refused.ends_with(&format!("got {code} at character {position}")), "{text:?}: {refused}");
            let refused = message(tenant(Some(text)));
            assert!(refused.starts_with("tenant must not contain"), "{refused}");
            assert!(refused.ends_with(&format!("got {code} at character {position}")), "{text:?}: {refused}");
        }
        assert_eq!(name("café-δ-日本").unwrap(), "café-δ-日本");
    }

    #[test]
    fn a_tenant_filter_follows_the_tenant_rule_and_absent_means_all() {
        assert_eq!(tenant_filter(None).unwrap(), None);
        assert_eq!(tenant_filter(Some("acme")).unwrap(), Some("acme".to_owned()));
        assert_eq!(message(tenant_filter(Some(""))), "tenant must not be empty");
        assert!(message(tenant_filter(Some("a\u{202E}"))).contains("U+202E"));
    }

    #[test]
    fn ranges_name_the_parameter_and_the_bounds() {
        assert_eq!(retries(0).unwrap(), 0);
        assert_eq!(retries(100).unwrap(), 100);
        assert_eq!(message(retries(101)), "retries must be between 0 and 100, got 101");
        assert_eq!(message(retries(-1)), "retries must be between 0 and 100, got -1");
        assert_eq!(retry_delay(0).unwrap(), Duration::ZERO);
        assert_eq!(message(retry_delay(-5)), "retry_delay_ms must be between 0 and 86400000 ms (one day), got -5");
        assert_eq!(timeout(1).unwrap(), Duration::from_millis(1));
        assert_eq!(message(timeout(0)), "timeout_ms must be between 1 and 86400000 ms (one day), got 0");
        assert_eq!(
            message(timeout(86_400_001)),
            "timeout_ms must be between 1 and 86400000 ms (one day), got 86400001"
        );
    }

    #[test]
    fn schedule_errors_pass_the_schedule_message_on_with_its_code() {
        let now: jiff::Timestamp = "2027-01-05T00:00:00Z".parse().unwrap();
        let error = schedule("61 * * * *", None, None, now).unwrap_err();
        assert!(error.message.starts_with("invalid schedule: minute"), "{}", error.message);
        assert_eq!(error.details, Some(json!({"field": "schedule", "kind": "schedule::cron_field"})));
        let error = schedule("5m", Some("Mars/Olympus".to_owned()), None, now).unwrap_err();
        assert!(error.message.starts_with("unknown time zone 'Mars/Olympus'"), "{}", error.message);
        let once = schedule("now", None, Some(ScheduleKind::Once), now).unwrap();
        assert_eq!(once.first_fire(now), Some(now));
    }

    fn lookup(found: bool, owner: Option<&str>, suggestions: &[&str]) -> CommandLookup {
        CommandLookup {
            found,
            owner: owner.map(str::to_owned),
            suggestions: suggestions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_command_is_declared_only_when_a_module_answers_it() {
        assert!(declared("system:echo", &lookup(true, Some("system"), &[])).is_ok());
        assert_eq!(
            message(declared("host:status", &lookup(true, Some("host"), &[]))),
            "unknown command 'host:status': no loaded module declares it (see `systemprompt modules`)"
        );
        assert_eq!(
            message(declared("system:nope", &lookup(false, None, &[]))),
            "unknown command 'system:nope': no loaded module declares it (see `systemprompt modules`)"
        );
    }

    #[test]
    fn an_undeclared_command_is_refused_with_the_close_matches_the_host_suggests() {
        assert_eq!(
            message(declared("system:ecko", &lookup(false, None, &["system:echo"]))),
            "unknown command 'system:ecko': no loaded module declares it (did you mean system:echo?)"
        );
        assert_eq!(
            message(declared("system:sleap", &lookup(false, None, &["system:sleep", "system:health"]))),
            "unknown command 'system:sleap': no loaded module declares it (did you mean system:sleep or \
             system:health?)"
        );
    }

    #[test]
    fn command_names_need_a_namespace() {
        assert_eq!(command_name("system:echo").unwrap(), "system:echo");
        for bad in ["echo", ":echo", "system:", "system:echo:x", "system: echo"] {
            assert_eq!(
                message(command_name(bad)),
                format!("command must be a bus command 'namespace:command', got '{bad}'")
            );
        }
    }
}
