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

/// `scheduler:logs --execution ID | --task NAME --last [--stream S] [--tail N] [--follow]`:
/// an execution's log lines, oldest first.
///
/// `--task NAME --last` reads the task's latest execution (with retries: the latest attempt).
/// Without `pages` it answers the lines as a list of [`LogLineView`] (`follow` alone changes
/// nothing: a typed caller reads what is there). With `pages` (set by the CLI when the user
/// follows, see the manifest's `follow` key) it answers one [`LogPage`] per call: the lines
/// written since the page before, waiting up to about a second for new ones, and `next` (the
/// parameters of the next call, with the cursor `after`) until the execution has ended and
/// every line was returned. An unknown execution or task is `not_found`; a task that never
/// ran is `not_found` too.
pub enum ExecutionLogs {}

/// Parameters of [`ExecutionLogs`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionLogsParams {
    /// The execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<i64>,
    /// A task's id or name, with `last`: its latest execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The tenant to look the task's name up in (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// With `task`: read its latest execution.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
    /// Only this stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<LogStream>,
    /// Only the last N lines (of the stream, when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<i64>,
    /// Keep reading until the execution has ended (with `pages`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow: bool,
    /// Only lines after this one (a [`LogLineView::id`]): the cursor of a follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many lines per answer (default and maximum 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Answer a [`LogPage`] (the CLI's follow protocol).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pages: bool,
}

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLineView {
    /// When it arrived (RFC 3339, UTC).
    pub at: String,
    /// Its stream.
    pub stream: LogStream,
    /// Its text.
    pub line: String,
    /// Its id (increasing; the cursor `after`).
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
}

/// One page of a followed command (the CLI's follow protocol, see the manifest's `follow`
/// key): items to print now, the parameters of the next call (`null`: the end), and the
/// final value, on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T, P> {
    /// What to print now, in order.
    pub items: Vec<T>,
    /// The full parameters of the next call; `None` on the last page.
    pub next: Option<P>,
    /// The final value, on the last page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// What the CLI says when the user stops following (Ctrl-C): what goes on and how to
    /// see it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_interrupt: Option<String>,
}

/// A page of [`ExecutionLogs`].
pub type LogPage = Page<LogLineView, ExecutionLogsParams>;

/// What [`ExecutionLogs`] returns: the lines, or (with `pages`) one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogsOutput {
    /// With `pages`.
    Page(Box<LogPage>),
    /// Without `pages`.
    Lines(Vec<LogLineView>),
}

impl Command for ExecutionLogs {
    const NAME: &'static str = "scheduler:logs";
    type Params = ExecutionLogsParams;
    type Output = LogsOutput;
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
