//! Execution logs: what the commands a task runs print, kept per execution in `task_logs`.
//!
//! A runner module (`shell`, `http`) writes the lines of the execution it runs with
//! [`AppendLogs`], naming the execution from its call's occurrence
//! (`Call::occurrence().execution_id`), in batches, and before it replies: when the
//! execution is recorded, its log is complete. It caps what it sends itself and ends a
//! truncated log with one `system` line saying so. People read logs with [`ExecutionLogs`]
//! (`scheduler:logs`).
//!
//! The convention a runner follows so that a task is refused at create time rather than at
//! its first run is here too: [`CHECK_TASK`].

use serde::{Deserialize, Serialize};

use systemprompt_module_sdk::Command;

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    /// The job's standard output (an HTTP response body, for `http:request`).
    Stdout,
    /// The job's standard error.
    Stderr,
    /// Written by the runner or the scheduler about the job: its start, its exit, a
    /// truncation, a kill.
    System,
}

impl LogStream {
    /// `stdout`, `stderr` or `system`: the stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::System => "system",
        }
    }
}

/// One line a runner sends: its stream and its text (without the line break; a line longer
/// than the runner's line limit arrives split).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLineInput {
    /// The stream.
    pub stream: LogStream,
    /// The text, valid UTF-8 (a runner replaces invalid bytes).
    pub line: String,
}

/// `scheduler:append-logs`: appends lines to an execution's log, in order, stamped with the
/// scheduler's clock when they arrive. An unknown execution is `not_found`.
pub enum AppendLogs {}

/// Parameters of [`AppendLogs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendLogsParams {
    /// The execution (`Call::occurrence().execution_id`).
    pub execution_id: i64,
    /// The lines, oldest first.
    pub lines: Vec<LogLineInput>,
}

/// What [`AppendLogs`] kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendedLogs {
    /// Lines written.
    pub appended: u64,
}

impl Command for AppendLogs {
    const NAME: &'static str = "scheduler:append-logs";
    type Params = AppendLogsParams;
    type Output = AppendedLogs;
}

/// The convention by which a module checks the data of the tasks that will call it: when a
/// module routes `<namespace>:check-task`, `scheduler:create` and `scheduler:update` call it
/// with [`CheckTaskParams`] before writing anything, and refuse the task with the module's
/// error (`invalid_params`, stating the rule). Its output is ignored. The runner checks the
/// same rules again when the task runs, so a config changed since is still enforced.
pub const CHECK_TASK: &str = "check-task";

/// What `<namespace>:check-task` receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTaskParams {
    /// The full command the task will dispatch, e.g. `shell:run`.
    pub command: String,
    /// The task's data, as the command will receive it.
    pub data: serde_json::Value,
}

/// What `<namespace>:check-task` answers when the data is acceptable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTaskOutput {}
