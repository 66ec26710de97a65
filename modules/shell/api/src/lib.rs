//! The typed API of the `shell` runner module: the parameters and output of `shell:run`
//! and `shell:check-task`, and the error codes `shell:run` answers with, so a caller (the
//! scheduler's CLI shorthand, tests, benchmarks) writes typed values instead of JSON.
//!
//! These types are the module's JSON interface, the same for the CLI, for tasks' `data` and
//! for other modules. The crate holds no logic: the rules (which programs may run, how the
//! environment is built, how a job is killed) live in the module and its README.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use systemprompt_module_sdk::Command;

/// Error codes `shell:run` answers with, besides the SDK's own (`invalid_params`,
/// `cancelled`).
pub mod code {
    /// The program ran and exited with a non-zero status or was killed by a signal.
    /// Retryable by the task's policy, unless the exit code is one of the task's
    /// `permanent_exit_codes`. `details` holds the [`crate::RunOutput`].
    pub const EXIT_STATUS: &str = "exit_status";
    /// The program could not be started (not found, not executable, bad working directory,
    /// `run_as` refused). Permanent: retrying cannot help.
    pub const SPAWN_FAILED: &str = "spawn_failed";
}

/// `shell:run`: runs one program (or, when the module allows it, one `/bin/sh -c` script)
/// and waits for it; its output goes to the scheduler's execution log.
pub enum Run {}

/// Parameters of [`Run`]: exactly one of `program` and `script`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// The program: a name looked up on the child's `PATH`, or a path. Run with `args` as
    /// its argv directly; no shell ever sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The program's arguments, each passed as is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// A shell script, run as `/bin/sh -c <script>`; refused unless the module's config
    /// says `allowScripts: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Variables added to the child's clean environment. Names starting with
    /// `SYSTEMPROMPT_` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The working directory; default `<data dir>/shell/work`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Text written to the child's standard input, which is then closed (default: no
    /// input, `/dev/null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Exit codes that mean "retrying cannot help": the failure is not retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permanent_exit_codes: Vec<i32>,
    /// Resource limits of the child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The user (and group) the child runs as; only when the host runs as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
}

/// Resource limits of a job's child.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Address-space limit in bytes (`RLIMIT_AS`): an allocation beyond it fails.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "memory")]
    pub memory_bytes: Option<u64>,
    /// Niceness added to the child's priority, 0 to 19 (lowering it needs privileges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
}

/// Who a job runs as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAs {
    /// A user name or numeric uid.
    pub user: String,
    /// A group name or numeric gid; default the user's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// What a finished job reports: the output of `shell:run` on exit 0, and the `details` of
/// its `exit_status` error otherwise (the scheduler reads `exit_code` for history).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The exit code, when the program exited (not killed by a signal).
    pub exit_code: Option<i32>,
    /// The signal that killed the program, when it was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// The absolute path that ran (after the `PATH` lookup).
    pub program: String,
    /// Bytes the program wrote to stdout (all of them, kept or dropped).
    pub stdout_bytes: u64,
    /// Bytes the program wrote to stderr.
    pub stderr_bytes: u64,
    /// True when output beyond `maxOutputBytes` was dropped from the log.
    pub truncated: bool,
    /// Bytes dropped from the log by the cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_bytes: u64,
    /// Wall time from spawn to the group's end, in milliseconds.
    pub duration_ms: u64,
    /// True when the runner killed the process group (cancellation, deadline, or members
    /// left behind by the leader).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub killed: bool,
    /// The last lines of stdout, when the call is not a scheduled execution (no log to
    /// send them to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_tail: Option<Vec<String>>,
    /// The last lines of stderr, same rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<Vec<String>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Command for Run {
    const NAME: &'static str = "shell:run";
    type Params = RunParams;
    type Output = RunOutput;
}

/// `shell:check-task`: the scheduler's check-task convention
/// (`scheduler_api::logs::CHECK_TASK`): validates a task's data for `shell:run` (its shape
/// and the program rules) before the task is written.
pub enum CheckTask {}

/// Parameters of [`CheckTask`]: the convention's one shape, from the scheduler's API.
pub use scheduler_api::logs::CheckTaskParams;

/// What [`CheckTask`] answers when the data is acceptable: the program as it resolves now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTaskOutput {
    /// The absolute path the program resolves to today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

impl Command for CheckTask {
    const NAME: &'static str = "shell:check-task";
    type Params = CheckTaskParams;
    type Output = CheckTaskOutput;
}
