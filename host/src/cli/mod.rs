//! The `systemprompt` command line.
//!
//! `serve`, `start`, `stop`, `status` and `modules` are the host's own; every other command
//! is `namespace:command`, parsed from the module manifests (without loading any library)
//! and sent to the running host over its socket, starting one in the background when none
//! runs and auto-start is on.
//!
//! Exit codes: 0 success; 1 the command ran and failed; 2 bad usage (unknown command or
//! flag, invalid value, missing confirmation); 3 no host could be reached.

mod follow;
mod module_command;
pub mod output;
mod wizard;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::manifest::{CommandSpec, Manifest};

use crate::config::{ConfigSource, HostConfig};
use crate::ipc::Request;
use crate::ipc::client::{self, ClientError};
use output::Format;

/// Exit code: the command ran and failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: no host could be reached.
pub const EXIT_UNAVAILABLE: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "systemprompt",
    version,
    about = "A plugin-module host with a command bus; its scheduler runs your cron, interval and one-off tasks.",
    allow_external_subcommands = true,
    after_help = "Module commands are written namespace:command, e.g. `systemprompt system:echo --message hi --format json`."
)]
struct Cli {
    /// Where the host keeps its socket, logs and module data [env: SYSTEMPROMPT_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The host's config file [env: SYSTEMPROMPT_CONFIG; default: config/systemprompt.yaml when present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<TopCommand>,
}

#[derive(Debug, Subcommand)]
enum TopCommand {
    /// Runs the host in the foreground until SIGINT, SIGTERM or `systemprompt stop`.
    Serve,
    /// Starts a host in the background (if none runs for this data dir).
    Start,
    /// Stops the host running for this data dir.
    Stop,
    /// Shows whether a host runs for this data dir, and its modules.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Lists loaded modules and their commands, and the modules that were skipped.
    Modules {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// Finds `--data-dir` and `--config` before full parsing: the manifests that define the
/// rest of the command line depend on them.
fn prescan(args: &[OsString]) -> ConfigSource {
    let mut source = ConfigSource::default();
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        let (flag, inline) = match text.split_once('=') {
            Some((flag, value)) => (flag, Some(PathBuf::from(value))),
            None => (text, None),
        };
        let slot = match flag {
            "--data-dir" => &mut source.data_dir,
            "--config" => &mut source.config_file,
            _ => continue,
        };
        *slot = inline.or_else(|| iter.next().map(PathBuf::from));
    }
    source
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// The command line's entry point.
pub fn main() -> ExitCode {
    // Before anything is created: what this process (the host, its modules' SQLite files,
    // the CLI's log of a background host) creates is private to its user.
    crate::datadir::private_umask();
    let args: Vec<OsString> = std::env::args_os().collect();
    let config = match HostConfig::load(&prescan(&args)) {
        Ok(config) => config,
        Err(error) => return fail(EXIT_USAGE, error),
    };
    let mut manifests: Vec<Manifest> = crate::host::Host::builtin_manifests();
    manifests.extend(crate::loader::discover(&config).modules.into_iter().map(|m| m.manifest));

    // On a terminal, commands with an interactive form do not let clap demand their
    // required arguments: with none given, the form asks for them.
    let interactive = std::io::stdin().is_terminal();
    let mut command = Cli::command();
    for manifest in &manifests {
        for spec in &manifest.commands {
            let full = format!("{}:{}", manifest.name, spec.name);
            command = command.subcommand(module_command::clap_command(&full, spec, interactive && spec.prompt));
        }
    }
    let args = module_command::join_hyphen_values(args, &manifests);
    let matches = match command.try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    if let Some((name, sub)) = matches.subcommand()
        && let Some((namespace, local)) = name.split_once(':')
        && let Some(spec) = manifests.iter().find(|m| m.name == namespace).and_then(|m| m.command(local))
    {
        crate::logging::init_cli();
        return run_module_command(&config, name, spec, sub);
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return fail(EXIT_USAGE, error),
    };
    match cli.command {
        Some(TopCommand::Serve) => match crate::daemon::serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(EXIT_FAILED, error),
        },
        Some(TopCommand::Start) => start(&config),
        Some(TopCommand::Stop) => stop(&config),
        Some(TopCommand::Status { format }) => status(&config, format),
        Some(TopCommand::Modules { format }) => modules(&config, format),
        Some(TopCommand::External(words)) => {
            let name = words.first().map(String::as_str).unwrap_or_default();
            let known: Vec<String> = manifests
                .iter()
                .flat_map(|m| m.command_names().collect::<Vec<_>>())
                .chain(["serve", "start", "stop", "status", "modules"].map(str::to_owned))
                .collect();
            fail(EXIT_USAGE, crate::bus::suggest::unknown_command(name, known.iter().map(String::as_str)))
        }
        None => {
            let _ = Cli::command().print_help();
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Asks on a terminal; refuses elsewhere. Returns whether to go on.
fn confirm(name: &str, spec: &CommandSpec, flag: &str, payload: &serde_json::Value) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!("{name} needs --{} when not run from a terminal", flag.replace('_', "-")));
    }
    let shown: Vec<String> = payload
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != flag)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    eprint!("{} ({name} {}) — proceed? [y/N] ", spec.summary, shown.join(" "));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|error| error.to_string())?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn run_module_command(config: &HostConfig, name: &str, spec: &CommandSpec, matches: &clap::ArgMatches) -> ExitCode {
    let interactive = spec.prompt && std::io::stdin().is_terminal();
    let payload = if interactive && !module_command::any_given(spec, matches) {
        let stdin = std::io::stdin();
        wizard::run(spec, &mut stdin.lock(), &mut std::io::stderr())
    } else {
        let missing = if interactive { module_command::missing_required(spec, matches) } else { Vec::new() };
        if missing.is_empty() {
            module_command::payload(spec, matches)
        } else {
            Err(format!("the following required arguments were not provided: {}", missing.join(", ")))
        }
    };
    let mut payload = match payload {
        Ok(payload) => payload,
        Err(message) => return fail(EXIT_USAGE, message),
    };
    if let Some(flag) = &spec.confirm
        && payload.get(flag) != Some(&serde_json::Value::Bool(true))
    {
        match confirm(name, spec, flag, &payload) {
            Ok(true) => {
                payload[flag.as_str()] = serde_json::Value::Bool(true);
            }
            Ok(false) => return fail(EXIT_FAILED, "aborted; nothing was changed"),
            Err(message) => return fail(EXIT_USAGE, message),
        }
    }
    let format = matches.get_one::<Format>(module_command::common::FORMAT).copied().unwrap_or(Format::Table);
    let request = Request {
        command: name.to_owned(),
        payload,
        timeout_ms: matches.get_one::<u64>(module_command::common::CALL_TIMEOUT).copied(),
        correlation_id: None,
    };
    if let Some(spec_follow) = &spec.follow
        && follow::wanted(&spec_follow.arg, &request.payload)
    {
        let columns = if spec_follow.columns.is_empty() { &spec.columns } else { &spec_follow.columns };
        return follow::run(config, request, format, columns);
    }
    print_outcome(client::call(config, &request), format, &spec.columns)
}

fn print_outcome(outcome: Result<serde_json::Value, ClientError>, format: Format, columns: &[String]) -> ExitCode {
    match outcome {
        Ok(value) => {
            print_stdout(&output::render_columns(&value, format, columns));
            ExitCode::SUCCESS
        }
        Err(ClientError::Command(error)) => command_failed(&error, format),
        Err(ClientError::Unavailable(message)) => fail(EXIT_UNAVAILABLE, message),
    }
}

fn command_failed(error: &CommandError, format: Format) -> ExitCode {
    if format == Format::Json {
        print_stdout(&output::render(&serde_json::json!({ "error": error }), Format::Json));
    }
    let code = if error.is(systemprompt_module_sdk::error::code::UNKNOWN_COMMAND)
        || error.is(systemprompt_module_sdk::error::code::INVALID_PARAMS)
    {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    };
    fail(code, &error.message)
}

#[allow(clippy::print_stdout, reason = "the CLI's output is its purpose")]
fn print_stdout(text: &str) {
    print!("{text}");
}

fn host_request(command: &str) -> Request {
    Request { command: command.to_owned(), payload: serde_json::json!({}), timeout_ms: None, correlation_id: None }
}

fn start(config: &HostConfig) -> ExitCode {
    match client::connect_running(config) {
        Ok(Some(_)) => {
            print_stdout(&format!("a host is already running for {}\n", config.data_dir.display()));
            return ExitCode::SUCCESS;
        }
        Ok(None) => {}
        Err(error) => return fail(EXIT_UNAVAILABLE, error),
    }
    match client::connect(&HostConfig { autostart: true, ..config.clone() }) {
        Ok(_) => {
            print_stdout(&format!("host started for {}\n", config.data_dir.display()));
            ExitCode::SUCCESS
        }
        Err(error) => fail(EXIT_UNAVAILABLE, error),
    }
}

/// Stops the host. It reports "no host is running" only when no host holds the data-dir
/// lock: a host it cannot reach is an error (exit 3) naming the pid, never a success.
fn stop(config: &HostConfig) -> ExitCode {
    let stream = match client::connect_running(config) {
        Ok(Some(stream)) => stream,
        Ok(None) => {
            print_stdout(&format!("no host is running for {}\n", config.data_dir.display()));
            return ExitCode::SUCCESS;
        }
        Err(error) => return fail(EXIT_UNAVAILABLE, error),
    };
    if let Err(error) = client::call_on(stream, &host_request("host:shutdown")) {
        return fail(EXIT_FAILED, error);
    }
    // Stopped means the data-dir lock is free again (the host holds it until it exits).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let free = std::fs::OpenOptions::new()
            .write(true)
            .open(config.lock_path())
            .map(|file| file.try_lock().is_ok())
            .unwrap_or(true);
        if free {
            print_stdout("host stopped\n");
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    fail(EXIT_FAILED, "the host did not stop within 60s")
}

fn status(config: &HostConfig, format: Format) -> ExitCode {
    let stream = match client::connect_running(config) {
        Ok(Some(stream)) => stream,
        Ok(None) => {
            if format == Format::Json {
                print_stdout(&output::render(&serde_json::json!({ "running": false }), Format::Json));
            }
            return fail(EXIT_UNAVAILABLE, format!("no host is running for {}", config.data_dir.display()));
        }
        Err(error) => return print_outcome(Err(error), format, &[]),
    };
    match client::call_on(stream, &host_request("host:status")) {
        Ok(mut value) => {
            value["running"] = serde_json::Value::Bool(true);
            if format == Format::Table
                && let Some(map) = value.as_object_mut()
            {
                map.remove("modules");
                map.remove("events");
            }
            print_stdout(&output::render(&value, format));
            ExitCode::SUCCESS
        }
        Err(error) => print_outcome(Err(error), format, &[]),
    }
}

fn modules(config: &HostConfig, format: Format) -> ExitCode {
    let outcome = client::call(config, &host_request("host:status"));
    let value = match outcome {
        Ok(value) => value,
        Err(error) => return print_outcome(Err(error), format, &[]),
    };
    let listing = serde_json::json!({ "modules": value["modules"], "skipped": value["skipped"] });
    if format != Format::Table {
        print_stdout(&output::render(&listing, format));
        return ExitCode::SUCCESS;
    }
    let rows: Vec<serde_json::Value> = value["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| serde_json::json!({"name": m["name"], "version": m["version"], "state": m["state"], "commands": m["commands"]}))
        .collect();
    print_stdout(&output::render(&serde_json::Value::Array(rows), Format::Table));
    for message in value["skipped"].as_array().into_iter().flatten() {
        eprintln!("skipped: {}", message.as_str().unwrap_or_default());
    }
    ExitCode::SUCCESS
}
