//! `module.yaml`: what a module is, without loading its code.
//!
//! The host reads every manifest before it loads any library, so `--help`, argument
//! parsing and routing tables all come from here. Unknown keys are errors (a typo must not
//! silently drop a setting), and [`Manifest::parse`] checks the rules a manifest must
//! keep, naming the file and the rule.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The parsed `module.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The module's name: the namespace of its commands (`[a-z][a-z0-9-]*`).
    pub name: String,
    /// The module's version (semver).
    pub version: String,
    /// The library file's stem: `scheduler` means `libscheduler.so` on Linux.
    pub library: String,
    /// One line saying what the module is for.
    #[serde(default)]
    pub description: String,
    /// Modules that must be started before this one (and stopped after it).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Start after every module that does not say so, and stop before them: for modules
    /// that dispatch to others (the scheduler), so their calls find their targets running.
    #[serde(default)]
    pub start_last: bool,
    /// The commands the module owns.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    /// The events the module publishes and the ones it receives.
    #[serde(default)]
    pub events: EventsSpec,
    /// Config defaults; overrides must use these keys with the same types.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// One of its commands that answers only while the module can do its work (its store
    /// reachable, its engine running): the host's `/readyz` calls it.
    #[serde(default)]
    pub ready: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// One command of a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The name inside the module's namespace (`list` for `scheduler:list`).
    pub name: String,
    /// One line for `--help` and `systemprompt modules`.
    pub summary: String,
    /// Longer help text.
    #[serde(default)]
    pub help: Option<String>,
    /// The arguments, in the order `--help` shows them.
    #[serde(default)]
    pub args: Vec<ArgSpec>,
    /// How long a caller waits by default, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// A boolean argument that confirms a destructive command: on a terminal the CLI asks
    /// when it is absent; elsewhere it refuses to run without it.
    #[serde(default)]
    pub confirm: Option<String>,
    /// Example invocations (shown in help).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Run without any argument on a terminal, the CLI asks for the arguments one by one
    /// (required ones first, then, if the user wants, the others) instead of failing.
    #[serde(default)]
    pub prompt: bool,
    /// The fields `--format table` shows, in order, when the result is a list of objects
    /// (all fields when empty). JSON and YAML output always carry every field.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The command can be followed (the CLI's follow protocol); see [`FollowSpec`].
    #[serde(default)]
    pub follow: Option<FollowSpec>,
    /// HTTP routes that call this command; see [`RouteSpec`].
    #[serde(default)]
    pub http: Vec<RouteSpec>,
    /// Who may call it over HTTP: the least role a token needs (`admin` when unsaid, so a
    /// command nobody classified is not opened to every token).
    #[serde(default)]
    pub access: Access,
}

/// What a command does, so the HTTP door knows which tokens may call it. A token's role
/// is the same scale: a `viewer` token may call `read` commands, an `operator` also
/// `operate` ones, an `admin` also `admin` ones; `local` commands (token management, host
/// shutdown) are only for the data dir's owner through the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Reads state (lists, shows, explains).
    Read,
    /// Acts on what exists (pause, resume, run, cancel).
    Operate,
    /// Creates, changes or deletes.
    #[default]
    Admin,
    /// Never over HTTP.
    Local,
}

impl Access {
    /// The manifest's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Operate => "operate",
            Access::Admin => "admin",
            Access::Local => "local",
        }
    }

    /// The name of the token role at this level.
    pub fn role_name(self) -> &'static str {
        match self {
            Access::Read => "viewer",
            Access::Operate => "operator",
            Access::Admin => "admin",
            Access::Local => "local",
        }
    }

    /// The level of a token role (`viewer`, `operator`, `admin`).
    pub fn from_role(role: &str) -> Option<Access> {
        match role {
            "viewer" => Some(Access::Read),
            "operator" => Some(Access::Operate),
            "admin" => Some(Access::Admin),
            _ => None,
        }
    }
}

/// One HTTP route onto a command, served by the host under `/api/v1` (the module's code
/// never sees HTTP; the host knows no module by name).
///
/// The payload of the call is the JSON body (an object, or nothing), then the query
/// parameters, then the path parameters, then `set`: a later source overwrites an earlier
/// one's field. Query and path values are text, converted to each argument's declared type.
/// The command's answer is the response body, with `status` on success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// `METHOD /path`: `GET /schedules/{id}`; each `{name}` names an argument of the command.
    pub route: String,
    /// The status of a success: 200 unless the route creates (201) or starts work (202).
    #[serde(default = "ok_status")]
    pub status: u16,
    /// Payload fields the route always sends (`{confirm: true}` for a DELETE).
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
}

fn ok_status() -> u16 {
    200
}

/// The methods a route may use.
pub const ROUTE_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl RouteSpec {
    /// The method and the path (checked by [`Manifest::parse`] to be well formed).
    pub fn method_and_path(&self) -> (&str, &str) {
        self.route.split_once(' ').unwrap_or(("", &self.route))
    }

    /// The names of the path's `{name}` parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &str> + '_ {
        let (_, path) = self.method_and_path();
        path.split('/').filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// What is wrong with this route of `command`, if anything.
    fn problem(&self, command: &CommandSpec) -> Option<String> {
        let Some((method, path)) = self.route.split_once(' ') else {
            return Some(format!("must be 'METHOD /path', e.g. 'GET /schedules', got '{}'", self.route));
        };
        if !ROUTE_METHODS.contains(&method) {
            return Some(format!("method must be one of {}, got '{method}'", ROUTE_METHODS.join(", ")));
        }
        let segments_ok = path.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|segment| {
                let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(segment);
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            })
        });
        if !segments_ok {
            return Some(format!(
                "path must start with '/' and hold segments of letters, digits, '-', '_', '.', ':' or a {{parameter}}, got '{path}'"
            ));
        }
        if let Some(param) = self.path_params().find(|p| !command.args.iter().any(|a| a.name == *p)) {
            return Some(format!("path parameter '{{{param}}}' must name one of the command's arguments"));
        }
        if !(200..300).contains(&self.status) {
            return Some(format!("status must be a success status (200-299), got {}", self.status));
        }
        None
    }
}

/// The CLI's follow protocol, generic over modules (the host knows no module by name).
///
/// When the user sets the boolean argument `arg` (`--follow`, `--wait`), the CLI adds
/// `"pages": true` to the payload, and the handler answers one page:
/// `{"items": [...], "next": <the full params of the next call, or null>, "result":
/// <optional final value>, "on_interrupt": <optional text>}`. The CLI prints the items as
/// they come (table: one line per item, the `columns` values separated by two spaces;
/// `--format json`: one compact JSON object per line), calls again with `next` until it is
/// null, then prints `result` if present and exits 0. An error ends it like any error (exit
/// code by its code). On Ctrl-C the CLI says it stopped waiting, prints the last page's
/// `on_interrupt` (what goes on, how to see it again) and exits 130.
///
/// Callers that do not set `pages` (modules through the typed API) get the command's
/// ordinary single answer. Each page is a call of its own: a handler bounds how long one
/// page waits (about a second) so a follower never holds a call open for long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowSpec {
    /// The boolean argument that asks for following.
    pub arg: String,
    /// The item fields a table line shows, in order (default: the command's `columns`).
    #[serde(default)]
    pub columns: Vec<String>,
}

/// The JSON type of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// A flag: present means `true`.
    Boolean,
    /// A JSON document given as text.
    Json,
}

impl ArgType {
    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Number => "number",
            ArgType::Boolean => "boolean",
            ArgType::Json => "json",
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgSpec {
    /// The JSON key (snake_case); the CLI flag is `--name` with `_` as `-`.
    pub name: String,
    /// The JSON type.
    #[serde(rename = "type")]
    pub ty: ArgType,
    /// Help text.
    #[serde(default)]
    pub help: String,
    /// Whether the argument must be given.
    #[serde(default)]
    pub required: bool,
    /// The value used when the argument is absent.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// The only values allowed.
    #[serde(default)]
    pub values: Vec<String>,
    /// A one-letter short flag.
    #[serde(default)]
    pub short: Option<char>,
    /// Whether the interactive form asks for it with the required arguments, though it may
    /// be left empty (one of several alternatives: `command`, `exec` or `url` of a task).
    #[serde(default)]
    pub ask: bool,
}

impl ArgSpec {
    /// The CLI flag without dashes.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// Events a module publishes and receives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// Local names of the events the module publishes (seen as `module:event`).
    #[serde(default)]
    pub emits: Vec<String>,
    /// Patterns of full event names: exact (`scheduler:task-created`) or a prefix ending in
    /// `*` (`scheduler:task-*`, `*`).
    #[serde(default)]
    pub subscribes: Vec<String>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The YAML does not parse or does not fit the schema (unknown key, wrong type).
    #[error("{file}: {message}")]
    Syntax {
        /// The manifest's path.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The YAML parses but breaks a rule.
    #[error("{file}: {rule}")]
    Rule {
        /// The manifest's path.
        file: String,
        /// The rule broken.
        rule: String,
    },
}

/// Argument names every command line already uses for itself.
pub const RESERVED_ARGS: [&str; 5] = ["format", "call_timeout", "data_dir", "config", "help"];

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Manifest {
    /// Parses and checks a manifest; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = serde_saphyr::from_str(text)
            .map_err(|error| ManifestError::Syntax { file: file.to_owned(), message: error.to_string() })?;
        manifest.check().map_err(|rule| ManifestError::Rule { file: file.to_owned(), rule })?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!(
                "module name must be lowercase letters, digits, '-' or '_', starting with a letter, got '{}'",
                self.name
            ));
        }
        if self.library.trim().is_empty() {
            return Err("library must name the module's library file stem, got an empty string".into());
        }
        if !self.config.is_object() {
            return Err("config must be a mapping of keys to default values".into());
        }
        if let Some(ready) = &self.ready
            && self.command(ready).is_none()
        {
            return Err(format!("ready must name one of the module's commands, got '{ready}'"));
        }
        let mut seen = HashSet::new();
        let mut routes = HashSet::new();
        for command in &self.commands {
            if !valid_name(&command.name) {
                return Err(format!(
                    "command name must be lowercase letters, digits, '-' or '_' without a namespace, got '{}'",
                    command.name
                ));
            }
            if !seen.insert(command.name.as_str()) {
                return Err(format!("command {}:{} is declared twice", self.name, command.name));
            }
            let mut args = HashSet::new();
            for arg in &command.args {
                if RESERVED_ARGS.contains(&arg.name.as_str()) {
                    return Err(format!(
                        "argument '{}' of {}:{} is reserved by the command line (reserved: {})",
                        arg.name,
                        self.name,
                        command.name,
                        RESERVED_ARGS.join(", ")
                    ));
                }
                if !args.insert(arg.name.as_str()) {
                    return Err(format!("argument '{}' of {}:{} is declared twice", arg.name, self.name, command.name));
                }
                if let Some(default) = &arg.default
                    && !fits(arg.ty, default)
                {
                    return Err(format!(
                        "default of argument '{}' of {}:{} must be {}, got {default}",
                        arg.name,
                        self.name,
                        command.name,
                        arg.ty.as_str()
                    ));
                }
            }
            if let Some(confirm) = &command.confirm
                && !command.args.iter().any(|a| &a.name == confirm && a.ty == ArgType::Boolean)
            {
                return Err(format!(
                    "confirm of {}:{} must name one of its boolean arguments, got '{confirm}'",
                    self.name, command.name
                ));
            }
            if let Some(follow) = &command.follow
                && !command.args.iter().any(|a| a.name == follow.arg && a.ty == ArgType::Boolean)
            {
                return Err(format!(
                    "follow.arg of {}:{} must name one of its boolean arguments, got '{}'",
                    self.name, command.name, follow.arg
                ));
            }
            for route in &command.http {
                if let Some(problem) = route.problem(command) {
                    return Err(format!("http route '{}' of {}:{}: {problem}", route.route, self.name, command.name));
                }
                if !routes.insert(route.method_and_path()) {
                    return Err(format!("http route '{}' is declared twice", route.route));
                }
            }
        }
        Ok(())
    }

    /// The full bus names of the commands, in manifest order.
    pub fn command_names(&self) -> impl Iterator<Item = String> + '_ {
        self.commands.iter().map(|c| format!("{}:{}", self.name, c.name))
    }

    /// The command with local name `name`.
    pub fn command(&self, name: &str) -> Option<&CommandSpec> {
        self.commands.iter().find(|c| c.name == name)
    }
}

/// Whether `value` has JSON type `ty`.
pub fn fits(ty: ArgType, value: &serde_json::Value) -> bool {
    match ty {
        ArgType::String => value.is_string(),
        ArgType::Integer => value.is_i64() || value.is_u64(),
        ArgType::Number => value.is_number(),
        ArgType::Boolean => value.is_boolean(),
        ArgType::Json => true,
    }
}

/// Whether a full event name matches a subscription pattern.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
name: demo
version: 0.1.0
library: demo
commands:
  - name: echo
    summary: Returns its message.
    args:
      - { name: message, type: string, default: hi }
events:
  emits: [said]
  subscribes: ['system:*']
config:
  limit: 3
";

    #[test]
    fn a_good_manifest_parses() {
        let manifest = Manifest::parse("demo/module.yaml", GOOD).unwrap();
        assert_eq!(manifest.command_names().collect::<Vec<_>>(), ["demo:echo"]);
        assert_eq!(manifest.config["limit"], 3);
    }

    #[test]
    fn an_unknown_key_is_refused_with_the_file_and_key() {
        let text = GOOD.replace("library: demo", "library: demo\nlibary: typo");
        let error = Manifest::parse("demo/module.yaml", &text).unwrap_err().to_string();
        assert!(error.starts_with("demo/module.yaml:"), "{error}");
        assert!(error.contains("libary"), "{error}");
    }

    #[test]
    fn a_duplicate_command_is_refused() {
        let text = GOOD.replace("events:", "  - name: echo\n    summary: Again.\nevents:");
        let error = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert_eq!(error, "m.yaml: command demo:echo is declared twice");
    }

    #[test]
    fn an_argument_named_like_a_cli_option_is_refused() {
        let text = GOOD.replace("name: message, type: string", "name: format, type: string");
        let error = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(error.starts_with("m.yaml: argument 'format' of demo:echo is reserved by the command line"), "{error}");
    }

    #[test]
    fn a_default_of_the_wrong_type_is_refused() {
        let text = GOOD.replace("default: hi", "default: 3");
        let error = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(error.contains("default of argument 'message' of demo:echo must be string, got 3"), "{error}");
    }

    #[test]
    fn an_http_route_names_its_path_parameters_among_the_arguments() {
        let text = GOOD.replace("      - { name: message, type: string, default: hi }",
            "      - { name: message, type: string, default: hi }\n    http:\n      - { route: 'POST /echo/{message}', status: 201 }");
        let manifest = Manifest::parse("m.yaml", &text).unwrap();
        let route = &manifest.commands[0].http[0];
        assert_eq!(route.method_and_path(), ("POST", "/echo/{message}"));
        assert_eq!(route.path_params().collect::<Vec<_>>(), ["message"]);
        assert_eq!(route.status, 201);
    }

    #[test]
    fn a_bad_http_route_is_refused_with_the_rule() {
        let cases = [
            ("'GET /echo/{nope}'", "path parameter '{nope}' must name one of the command's arguments"),
            ("'FETCH /echo'", "method must be one of GET, POST, PUT, PATCH, DELETE, got 'FETCH'"),
            ("'GET echo'", "path must start with '/'"),
            ("'GET /echo//x'", "path must start with '/'"),
            ("'/echo'", "must be 'METHOD /path'"),
        ];
        for (route, rule) in cases {
            let text = GOOD.replace(
                "      - { name: message, type: string, default: hi }",
                &format!(
                    "      - {{ name: message, type: string, default: hi }}\n    http:\n      - {{ route: {route} }}"
                ),
            );
            let error = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
            assert!(error.contains(rule), "{route}: {error}");
        }
    }

    #[test]
    fn patterns_match_exact_names_and_prefixes() {
        assert!(pattern_matches("scheduler:task-*", "scheduler:task-created"));
        assert!(pattern_matches("*", "anything:at-all"));
        assert!(pattern_matches("system:tick", "system:tick"));
        assert!(!pattern_matches("system:tick", "system:tock"));
    }
}
