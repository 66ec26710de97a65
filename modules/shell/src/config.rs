//! The shell module's config, read from the `config:` of its `module.yaml` merged with the
//! host config's overrides. Keys are camelCase nouns; durations are milliseconds, as in the
//! scheduler's config. Unknown keys are refused, so a typo in an override (a misspelt
//! `deniedPrograms`) is an error, not a rule silently missing.

use serde::Deserialize;

/// The module's config (`config:` of `modules/shell/module.yaml`, which holds the defaults
/// below; a test reads it to say so).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ShellConfig {
    /// The child's `PATH` (a task's `env` may replace it; the program rules then judge the
    /// path it resolves to).
    pub path: String,
    /// Patterns a program must match (on its resolved path, or its file name for a pattern
    /// without `/`); empty allows any program the denied list does not refuse.
    pub allowed_programs: Vec<String>,
    /// Patterns that refuse a program; checked before `allowedPrograms`.
    pub denied_programs: Vec<String>,
    /// Whether a task may give a `script` (run through `/bin/sh -c`). Off by default: a
    /// script is shell-interpreted text, exactly what argv execution exists to avoid.
    pub allow_scripts: bool,
    /// How long a job has, after SIGTERM to its process group, before SIGKILL (ms).
    pub kill_grace: u64,
    /// The most bytes of output (both streams, line breaks counted) one execution sends to
    /// its log; beyond it lines are counted and dropped.
    pub max_output_bytes: u64,
    /// The longest line sent as one log line (bytes); a longer line arrives split.
    pub max_line_bytes: usize,
    /// How many last lines of stderr go into a failure's message (and of each stream into
    /// the output of a run that is not a scheduled execution).
    pub tail_lines: usize,
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig {
            path: "/usr/local/bin:/usr/bin:/bin".to_owned(),
            allowed_programs: Vec::new(),
            denied_programs: Vec::new(),
            allow_scripts: false,
            kill_grace: 5_000,
            max_output_bytes: 1024 * 1024,
            max_line_bytes: 16 * 1024,
            tail_lines: 10,
        }
    }
}
