//! A job's process group as seen from `/proc`: who is still in it, signalling all of it,
//! and reading a process's environment to tell our job's processes from a stranger's.
//!
//! Every job is its own process group (`process_group(0)`: the leader's pid is the pgid),
//! so one `kill(-pgid)` reaches the program and every descendant that did not leave the
//! group (a `setsid` daemon leaves it; that is the one escape, see the README). A zombie
//! counts as gone: it runs nothing, and its parent (or init) reaps it.
//!
//! Deliberately not here: spawning and waiting (`commands/run.rs`), the running-job journal
//! (`records.rs`).

use std::path::Path;

use rustix::process::{Pid, Signal};

/// The live (not zombie) processes whose process group is `pgid`.
pub(crate) fn members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()))
        .filter(|&pid| stat_group(pid).is_some_and(|(state, group)| group == pgid && state != 'Z'))
        .collect()
}

/// True while some live process is in group `pgid`. The kernel answers the common case
/// (no process left, `ESRCH` to a signal-0 probe) without a `/proc` scan; only a group it
/// still knows is scanned, since its last members may be zombies.
pub(crate) fn is_alive(pgid: i32) -> bool {
    let Some(pid) = Pid::from_raw(pgid) else {
        return false;
    };
    match rustix::process::test_kill_process_group(pid) {
        Err(rustix::io::Errno::SRCH) => false,
        _ => !members(pgid).is_empty(),
    }
}

/// The state letter and process group of `pid`, from `/proc/<pid>/stat`; `None` when the
/// process is gone.
fn stat_group(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after
    // the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Sends `signal` to every process of group `pgid`. A group already gone is not an error.
pub(crate) fn signal(pgid: i32, signal: Signal) {
    let Some(pid) = Pid::from_raw(pgid) else {
        return;
    };
    if let Err(error) = rustix::process::kill_process_group(pid, signal)
        && error != rustix::io::Errno::SRCH
    {
        tracing::warn!(pgid, ?signal, %error, "Signalling a job's process group failed.");
    }
}

/// True when `/proc/<pid>/environ` holds the entry `needle` (`NAME=value`). A process we
/// may not read (another user's, when we are not root) does not hold it.
pub(crate) fn environ_has(pid: i32, needle: &str) -> bool {
    let Ok(environ) = std::fs::read(Path::new("/proc").join(pid.to_string()).join("environ")) else {
        return false;
    };
    environ.split(|&b| b == 0).any(|entry| entry == needle.as_bytes())
}
