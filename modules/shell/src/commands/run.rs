//! `shell:run`: runs one program with its argv (never through a shell, unless the task gives
//! a `script` and the config allows scripts) in its own process group with a clean
//! environment, streams its output to the execution's log, and answers with its exit.
//!
//! The life of a job, and who ends it:
//!
//! ```text
//!  rules ─ record ─ spawn (pgid = pid) ─┬─ leader exits ──────────────┐
//!                                       └─ call cancelled ─ SIGTERM ──┤ (deadline, scheduler:cancel)
//!                                            killGrace ─ SIGKILL ─────┤
//!  group members left behind by the leader: SIGTERM, killGrace, SIGKILL
//!  group gone (from /proc) ─ pipes drained ─ record removed ─ last log flush ─ reply
//! ```
//!
//! A leader that exits while its background children run does not end the job's group
//! with it by chance: the runner ends it (SIGTERM, then SIGKILL after `killGrace`), and
//! the execution is recorded only once no process of the group is left. The job's outcome
//! is still its leader's exit status; `killed` says the group had to be ended.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use scheduler_api::logs::LogStream;
use shell_api::{RunOutput, RunParams};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CallOptions, CommandError, Occurrence};
use tokio::io::AsyncWriteExt;

use super::rules::{self, RunAsIds};
use crate::output::{self, Collector};
use crate::records::RUN_ID_VAR;
use crate::{Shell, group};

/// How long the pipes may stay open once the job's group is gone: only a process that left
/// the group (`setsid`) can hold them, and it does not hold the execution open.
const DRAIN_AFTER_GROUP: Duration = Duration::from_secs(2);
/// How often the group is looked for in `/proc` while it is being ended.
const GROUP_POLL: Duration = Duration::from_millis(20);
/// How many last stderr lines go into a failure's message.
const MESSAGE_TAIL_LINES: usize = 3;
/// How long one log batch may take; it is not tied to the call's cancellation, so the last
/// lines of a cancelled job still reach its log.
const LOG_CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(module: Arc<Shell>, params: RunParams, call: Call<'static>) -> Result<RunOutput, CommandError> {
    let config = &module.config;
    let resolved = rules::check(config, &params)?;
    let run_as = params.run_as.as_ref().map(rules::resolve_run_as).transpose()?;
    let cwd = match &params.cwd {
        Some(cwd) => rules::check_cwd(cwd)?,
        None => module.work_dir.clone(),
    };
    let occurrence = call.occurrence();
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut command = tokio::process::Command::new(&resolved.program);
    command
        .args(&resolved.args)
        .env_clear()
        .envs(environment(&module, &params.env, occurrence.as_ref(), run_as.as_ref(), &run_id))
        .current_dir(&cwd)
        // Its own group, so one signal reaches every descendant that stays in it.
        .process_group(0)
        .stdin(if params.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    if let Some(ids) = &run_as {
        // std drops the supplementary groups (setgroups(0)) when root sets a uid, then
        // setgid before setuid: the child keeps none of root's privileges.
        command.uid(ids.uid).gid(ids.gid);
    }
    apply_limits(&mut command, &params);

    let record = module.records.begin(&run_id, occurrence.as_ref().map(|o| o.execution_id)).map_err(|error| {
        CommandError::internal(format!(
            "shell:run: cannot write the job record in {}: {error}",
            module.records.dir().display()
        ))
    })?;
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            record.remove();
            return Err(CommandError::new(
                shell_api::code::SPAWN_FAILED,
                format!("shell:run: cannot start {} in {}: {error}", resolved.program.display(), cwd.display()),
            )
            .permanent());
        }
    };
    let Some(pgid) = child.id().and_then(|pid| i32::try_from(pid).ok()) else {
        record.remove();
        return Err(CommandError::internal("shell:run: the spawned job has no pid"));
    };
    if let Err(error) = record.set_pgid(pgid) {
        tracing::warn!(pgid, %error, "Recording a job's process group failed; a host crash would leave it running.");
    }
    tracing::debug!(pgid, program = %resolved.program.display(), "Job started.");

    if let (Some(text), Some(mut stdin)) = (params.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            // A child that exits without reading its input is not an error of the job.
            let _ = stdin.write_all(text.as_bytes()).await;
        });
    }
    let (tx, rx) = output::channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(output::read_lines(out, LogStream::Stdout, config.max_line_bytes, tx.clone()))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(output::read_lines(err, LogStream::Stderr, config.max_line_bytes, tx.clone()))),
    ];
    drop(tx);
    let target = occurrence.as_ref().map(|occurrence| {
        let mut options = CallOptions::on_behalf_of(&call);
        // The last batch is sent after a cancellation, so the log must not be cancelled
        // with the call; it has its own bound instead.
        options.cancel = None;
        options.timeout = Some(LOG_CALL_TIMEOUT);
        (occurrence.execution_id, options)
    });
    let mut collector = Collector::new(module.host.clone(), target, config.max_output_bytes, config.tail_lines);
    let collecting = tokio::spawn(async move {
        collector.collect(rx).await;
        collector
    });

    let grace = Duration::from_millis(config.kill_grace);
    let mut cancelled = false;
    let status = tokio::select! {
        status = child.wait() => status,
        () = call.cancelled() => {
            cancelled = true;
            group::signal(pgid, Signal::TERM);
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    group::signal(pgid, Signal::KILL);
                    child.wait().await
                }
            }
        }
    };
    // The leader is reaped; whatever is left of its group is ended now. A pgid is only
    // reused once every member of the old group is gone, so a live member found here is
    // ours; the one window is the microseconds between the reap and this scan, in which
    // the last member would have to die and the kernel hand the same number to a new
    // group leader.
    let left_behind = group::is_alive(pgid);
    if left_behind {
        end_group(pgid, if cancelled { Duration::ZERO } else { grace }, &call).await;
    }
    let killed = cancelled || left_behind;
    let mut bytes = [0u64; 2];
    let mut cut_pipes = false;
    for (slot, reader) in readers.into_iter().enumerate() {
        let Some(mut reader) = reader else { continue };
        match tokio::time::timeout(DRAIN_AFTER_GROUP, &mut reader).await {
            Ok(Ok(n)) => bytes[slot] = n,
            Ok(Err(_)) => {}
            Err(_) => {
                reader.abort();
                cut_pipes = true;
            }
        }
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    record.remove();
    let mut collector = collecting.await.map_err(|error| CommandError::internal(format!("shell:run: {error}")))?;

    let status =
        status.map_err(|error| CommandError::internal(format!("shell:run: waiting for the job failed: {error}")))?;
    let (exit_code, signal) = (status.code(), status.signal());
    let summary = match (exit_code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without a status".to_owned(),
    };
    if cancelled {
        collector.system("cancelled: the process group was sent SIGTERM (SIGKILL after killGrace)".to_owned());
    } else if left_behind {
        collector.system("the leader exited with processes of its group still running; they were ended".to_owned());
    }
    if cut_pipes {
        collector.system("output cut: a process outside the job's group kept its pipes open".to_owned());
    }
    // The exit status is the execution's (`exit_code`, `signal`, its error), not a log line:
    // a job that prints nothing costs no log write.
    let collected = collector.finish().await;
    let keep_tails = occurrence.is_none();
    let message_tail =
        collected.stderr_tail[collected.stderr_tail.len().saturating_sub(MESSAGE_TAIL_LINES)..].join(" | ");
    let output = RunOutput {
        exit_code,
        signal,
        program: resolved.program.display().to_string(),
        stdout_bytes: bytes[0],
        stderr_bytes: bytes[1],
        truncated: collected.dropped_bytes > 0,
        dropped_bytes: collected.dropped_bytes,
        duration_ms,
        killed,
        stdout_tail: keep_tails.then_some(collected.stdout_tail),
        stderr_tail: keep_tails.then_some(collected.stderr_tail),
    };
    let details = serde_json::to_value(&output).unwrap_or_default();
    if cancelled {
        return Err(CommandError::new(
            code::CANCELLED,
            format!("shell:run was cancelled; its process group was ended ({summary})"),
        )
        .with_details(details));
    }
    if exit_code == Some(0) {
        return Ok(output);
    }
    let message = if message_tail.is_empty() { summary } else { format!("{summary}: {message_tail}") };
    let error = CommandError::new(shell_api::code::EXIT_STATUS, message).with_details(details);
    if exit_code.is_some_and(|code| params.permanent_exit_codes.contains(&code)) {
        Err(error.permanent())
    } else {
        Err(error)
    }
}

/// Ends what is left of group `pgid`: SIGTERM, up to `grace` for it to go (less when the
/// call is cancelled meanwhile), then SIGKILL until `/proc` shows no member.
async fn end_group(pgid: i32, grace: Duration, call: &Call<'static>) {
    group::signal(pgid, Signal::TERM);
    let gone = async {
        while group::is_alive(pgid) {
            tokio::time::sleep(GROUP_POLL).await;
        }
    };
    tokio::select! {
        () = gone => return,
        () = tokio::time::sleep(grace) => {}
        () = call.cancelled() => {}
    }
    while group::is_alive(pgid) {
        group::signal(pgid, Signal::KILL);
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// The child's whole environment: nothing of the host's but `PATH` (the config's),
/// `HOME`, `LANG` and `TZ`; then the task's variables; then the occurrence's and the run's
/// marker, which a task cannot override.
fn environment(
    module: &Shell,
    task_env: &BTreeMap<String, String>,
    occurrence: Option<&Occurrence>,
    run_as: Option<&RunAsIds>,
    run_id: &str,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), module.config.path.clone());
    let home = run_as
        .map(|ids| ids.home.clone())
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| module.work_dir.display().to_string());
    env.insert("HOME".to_owned(), home);
    env.insert("LANG".to_owned(), std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".to_owned()));
    if let Ok(tz) = std::env::var("TZ") {
        env.insert("TZ".to_owned(), tz);
    }
    env.extend(task_env.iter().map(|(name, value)| (name.clone(), value.clone())));
    if let Some(occurrence) = occurrence {
        let vars = [
            ("SYSTEMPROMPT_TASK_ID", occurrence.task_id.clone()),
            ("SYSTEMPROMPT_TASK_NAME", occurrence.task_name.clone()),
            ("SYSTEMPROMPT_EXECUTION_ID", occurrence.execution_id.to_string()),
            ("SYSTEMPROMPT_SCHEDULED_FOR", occurrence.scheduled_for.clone()),
            ("SYSTEMPROMPT_ATTEMPT", occurrence.attempt.to_string()),
            ("SYSTEMPROMPT_TRIGGER", occurrence.trigger.clone()),
            ("SYSTEMPROMPT_IDEMPOTENCY_KEY", occurrence.idempotency_key.clone()),
        ];
        env.extend(vars.into_iter().map(|(name, value)| (name.to_owned(), value)));
    }
    env.insert(RUN_ID_VAR.to_owned(), run_id.to_owned());
    env
}

/// Applies the task's memory and nice limits in the child, between fork and exec.
fn apply_limits(command: &mut tokio::process::Command, params: &RunParams) {
    let Some(limits) = params.limits.clone() else { return };
    if limits.memory_bytes.is_none() && limits.nice.is_none() {
        return;
    }
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe work is allowed. It captures two plain integers, allocates nothing,
    // takes no lock, and makes at most two system calls (setrlimit, then nice via
    // getpriority/setpriority) through rustix's raw syscall wrappers; an error is returned
    // as an `io::Error` built from the errno alone (no allocation), which std reports as
    // the spawn's error.
    unsafe {
        command.pre_exec(move || {
            if let Some(bytes) = limits.memory_bytes {
                let limit = rustix::process::Rlimit { current: Some(bytes), maximum: Some(bytes) };
                rustix::process::setrlimit(rustix::process::Resource::As, limit)?;
            }
            if let Some(nice) = limits.nice {
                rustix::process::nice(nice)?;
            }
            Ok(())
        });
    }
}

/// The default working directory: `<data dir>/shell/work`.
pub(crate) fn work_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("shell").join("work")
}
