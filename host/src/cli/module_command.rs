//! Module commands on the command line: a clap command built from a manifest's
//! [`CommandSpec`], and the JSON payload built from what was parsed.
//!
//! So `systemprompt scheduler:list --status active` works the moment a module declares
//! it, with `--help`, types, allowed values and defaults straight from `module.yaml`.
//!
//! A value may start with a hyphen (`--retries -1`, `--schedule -5m`): the module, not
//! clap, decides whether it is valid, so the user reads the module's rule. A malformed JSON
//! value is reported with its position and a short excerpt, never echoed whole.

use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches};
use serde_json::{Map, Value};
use systemprompt_module_sdk::manifest::{ArgSpec, ArgType, CommandSpec, Manifest};

use super::output::Format;

/// The options every module command takes besides its own.
pub(crate) mod common {
    /// `--format`.
    pub(crate) const FORMAT: &str = "format";
    /// `--call-timeout` (not `--timeout`: modules use that name for their own arguments).
    pub(crate) const CALL_TIMEOUT: &str = "call_timeout";
}

fn arg_for(spec: &ArgSpec) -> Arg {
    let flag = spec.flag();
    let mut arg = Arg::new(spec.name.clone()).long(flag).help(spec.help.clone());
    if let Some(short) = spec.short {
        arg = arg.short(short);
    }
    arg = match spec.ty {
        ArgType::Boolean => arg.action(ArgAction::SetTrue),
        ArgType::Integer => arg.value_parser(clap::value_parser!(i64)).value_name("INTEGER"),
        ArgType::Number => arg.value_parser(clap::value_parser!(f64)).value_name("NUMBER"),
        ArgType::String if !spec.values.is_empty() => {
            arg.value_parser(clap::builder::PossibleValuesParser::new(spec.values.clone())).value_name("VALUE")
        }
        ArgType::String => arg.value_name("TEXT"),
        ArgType::Json => arg.value_name("JSON"),
    };
    if let Some(default) = &spec.default
        && spec.ty != ArgType::Boolean
    {
        let shown = match default {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !shown.is_empty() {
            arg = arg.help(format!("{} [default: {shown}]", spec.help).trim().to_owned());
        }
    }
    arg
}

/// The clap command for `namespace:command`. With `relaxed`, required arguments are not
/// enforced by clap (the interactive form asks for them instead).
pub(crate) fn clap_command(full_name: &str, spec: &CommandSpec, relaxed: bool) -> clap::Command {
    let mut command = clap::Command::new(full_name.to_owned()).about(spec.summary.clone());
    if let Some(help) = &spec.help {
        command = command.long_about(help.clone());
    }
    if !spec.examples.is_empty() {
        command = command.after_help(format!("Examples:\n  {}", spec.examples.join("\n  ")));
    }
    for arg in &spec.args {
        command = command.arg(arg_for(arg).required(arg.required && !relaxed));
    }
    command
        .arg(
            Arg::new(common::FORMAT)
                .long("format")
                .value_parser(clap::value_parser!(Format))
                .default_value("table")
                .help("Output format"),
        )
        .arg(
            Arg::new(common::CALL_TIMEOUT)
                .long("call-timeout")
                .value_name("MS")
                .value_parser(clap::value_parser!(u64).range(1..))
                .help("How long to wait for the command, in milliseconds"),
        )
}

/// The long flags of a module command that take a value, with their short forms.
fn value_flags(spec: &CommandSpec) -> Vec<(String, Option<char>)> {
    spec.args
        .iter()
        .filter(|a| a.ty != ArgType::Boolean)
        .map(|a| (a.flag(), a.short))
        .chain([("format".to_owned(), None), ("call-timeout".to_owned(), None)])
        .collect()
}

/// Whether `word` is an option the module command knows (so it is not a value).
fn is_known_option(spec: &CommandSpec, word: &str) -> bool {
    if let Some(long) = word.strip_prefix("--") {
        let name = long.split_once('=').map_or(long, |(name, _)| name);
        return name.is_empty()
            || matches!(name, "help" | "format" | "call-timeout" | "data-dir" | "config")
            || spec.args.iter().any(|a| a.flag() == name);
    }
    let mut chars = word.chars().skip(1);
    match chars.next() {
        Some('h') => true,
        Some(c) => spec.args.iter().any(|a| a.short == Some(c)),
        None => false,
    }
}

/// Rewrites `--flag -5m` as `--flag=-5m` for the value-taking flags of the module command
/// on the line, when the hyphenated word is not one of its options; so clap passes a
/// negative number or a hyphenated text on instead of taking it for a flag, and
/// `--name --command x` still says that `--name` lacks its value.
pub(crate) fn join_hyphen_values(args: Vec<OsString>, manifests: &[Manifest]) -> Vec<OsString> {
    let spec = args.iter().find_map(|word| {
        let (namespace, local) = word.to_str()?.split_once(':')?;
        manifests.iter().find(|m| m.name == namespace)?.command(local)
    });
    let Some(spec) = spec else { return args };
    let flags = value_flags(spec);
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.iter().peekable();
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else {
            out.push(word.clone());
            continue;
        };
        if text == "--" {
            out.push(word.clone());
            out.extend(words.cloned());
            break;
        }
        let long = if let Some(long) = text.strip_prefix("--") {
            flags.iter().find(|(flag, _)| flag == long).map(|(flag, _)| flag)
        } else {
            let mut chars = text.chars();
            match (chars.next(), chars.next(), chars.next()) {
                (Some('-'), Some(c), None) => flags.iter().find(|(_, short)| *short == Some(c)).map(|(flag, _)| flag),
                _ => None,
            }
        };
        let value = words
            .peek()
            .and_then(|next| next.to_str())
            .filter(|next| next.len() > 1 && next.starts_with('-') && *next != "--" && !is_known_option(spec, next));
        match (long, value) {
            (Some(long), Some(value)) => {
                out.push(OsString::from(format!("--{long}={value}")));
                words.next();
            }
            _ => out.push(word.clone()),
        }
    }
    out
}

/// How much of a malformed JSON value an error shows on each side of the error.
const EXCERPT_CHARS: usize = 20;

/// The error for a malformed JSON flag value: serde's message (it ends with the line and
/// column) and at most a few dozen characters around the position.
fn json_error(flag: &str, text: &str, error: &serde_json::Error) -> String {
    let line = text.lines().nth(error.line().saturating_sub(1)).unwrap_or_default();
    // serde_json counts columns in bytes; find the nearest character boundary.
    let mut at = error.column().saturating_sub(1).min(line.len());
    while !line.is_char_boundary(at) {
        at -= 1;
    }
    let before: Vec<char> = line[..at].chars().rev().take(EXCERPT_CHARS + 1).collect();
    let after: Vec<char> = line[at..].chars().take(EXCERPT_CHARS + 1).collect();
    let mut excerpt = String::new();
    if before.len() > EXCERPT_CHARS {
        excerpt.push('…');
    }
    excerpt.extend(before.iter().take(EXCERPT_CHARS).rev());
    excerpt.extend(after.iter().take(EXCERPT_CHARS));
    if after.len() > EXCERPT_CHARS {
        excerpt.push('…');
    }
    let excerpt: String = excerpt.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("--{flag} must be valid JSON: {error}, near '{excerpt}' ({} bytes given)", text.len())
}

/// Whether any of the command's own arguments was given on the command line.
pub(crate) fn any_given(spec: &CommandSpec, matches: &ArgMatches) -> bool {
    spec.args.iter().any(|a| matches.value_source(&a.name) == Some(clap::parser::ValueSource::CommandLine))
}

/// The flags of required arguments that were not given (when clap did not enforce them).
pub(crate) fn missing_required(spec: &CommandSpec, matches: &ArgMatches) -> Vec<String> {
    spec.args
        .iter()
        .filter(|a| a.required && matches.value_source(&a.name) != Some(clap::parser::ValueSource::CommandLine))
        .map(|a| format!("--{}", a.flag()))
        .collect()
}

/// Builds the JSON payload from parsed arguments; manifest defaults fill the gaps.
pub(crate) fn payload(spec: &CommandSpec, matches: &ArgMatches) -> Result<Value, String> {
    let mut payload = Map::new();
    for arg in &spec.args {
        let given = matches.value_source(&arg.name) == Some(clap::parser::ValueSource::CommandLine);
        let value = match arg.ty {
            ArgType::Boolean => {
                if matches.get_flag(&arg.name) {
                    Some(Value::Bool(true))
                } else {
                    None
                }
            }
            ArgType::Integer => matches.get_one::<i64>(&arg.name).map(|n| Value::from(*n)),
            ArgType::Number => matches.get_one::<f64>(&arg.name).map(|n| Value::from(*n)),
            ArgType::String => matches.get_one::<String>(&arg.name).map(|s| Value::String(s.clone())),
            ArgType::Json => match matches.get_one::<String>(&arg.name) {
                None => None,
                Some(text) => Some(serde_json::from_str(text).map_err(|error| json_error(&arg.flag(), text, &error))?),
            },
        };
        if let Some(value) = value.filter(|_| given || arg.ty != ArgType::Boolean) {
            payload.insert(arg.name.clone(), value);
        }
    }
    fill_defaults(spec, &mut payload);
    Ok(Value::Object(payload))
}

/// Gives every absent argument its manifest default.
pub(crate) fn fill_defaults(spec: &CommandSpec, payload: &mut Map<String, Value>) {
    for arg in &spec.args {
        if let (false, Some(default)) = (payload.contains_key(&arg.name), &arg.default) {
            payload.insert(arg.name.clone(), default.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use systemprompt_module_sdk::manifest::Manifest;

    use super::{clap_command, join_hyphen_values, payload};

    const MANIFEST: &str = "
name: demo
version: 0.1.0
library: demo
commands:
  - name: create
    summary: Creates.
    args:
      - { name: name, type: string, required: true }
      - { name: retries, type: integer, default: 3 }
      - { name: data, type: json }
      - { name: run_now, type: boolean }
      - { name: status, type: string, values: [active, paused] }
";

    fn parse(args: &[&str]) -> Result<serde_json::Value, String> {
        let manifest = Manifest::parse("m", MANIFEST).unwrap();
        let spec = &manifest.commands[0];
        let words: Vec<std::ffi::OsString> =
            std::iter::once("demo:create").chain(args.iter().copied()).map(Into::into).collect();
        let words = join_hyphen_values(words, std::slice::from_ref(&manifest));
        let matches =
            clap_command("demo:create", spec, false).try_get_matches_from(words).map_err(|error| error.to_string())?;
        payload(spec, &matches)
    }

    #[test]
    fn negative_numbers_and_hyphenated_text_are_values_not_flags() {
        let got = parse(&["--name", "-5m", "--retries", "-1"]).unwrap();
        assert_eq!(got, json!({"name": "-5m", "retries": -1}));
    }

    #[test]
    fn a_flag_where_a_value_belongs_still_says_the_value_is_missing() {
        let error = parse(&["--name", "--retries", "2"]).unwrap_err();
        assert!(error.contains("a value is required for '--name <TEXT>'"), "{error}");
    }

    #[test]
    fn malformed_json_shows_its_position_and_a_short_excerpt_not_the_whole_value() {
        let big = format!("{{\"a\": \"{}\", oops}}", "x".repeat(120_000));
        let error = parse(&["--name", "b", "--data", &big]).unwrap_err();
        assert!(error.len() < 300, "{} bytes: {error}", error.len());
        assert!(error.contains("line 1 column 120011"), "{error}");
        assert!(error.contains("near '…xxxxxxxxxxxxxxxxx\", oops}'"), "{error}");
    }

    #[test]
    fn flags_become_typed_json_with_defaults_filled_in() {
        let got = parse(&["--name", "b", "--data", r#"{"type":"full"}"#, "--run-now"]).unwrap();
        assert_eq!(got, json!({"name": "b", "retries": 3, "data": {"type": "full"}, "run_now": true}));
    }

    #[test]
    fn malformed_json_names_the_flag() {
        let error = parse(&["--name", "b", "--data", "{oops"]).unwrap_err();
        assert!(error.starts_with("--data must be valid JSON: key must be a string"), "{error}");
    }

    #[test]
    fn values_outside_the_declared_set_are_refused() {
        let error = parse(&["--name", "b", "--status", "gone"]).unwrap_err();
        assert!(error.contains("invalid value 'gone' for '--status <VALUE>'"), "{error}");
    }

    #[test]
    fn an_unknown_flag_is_refused() {
        assert!(parse(&["--name", "b", "--colour", "red"]).unwrap_err().contains("unexpected argument '--colour'"));
    }
}
