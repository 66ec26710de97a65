//! Running-job records, so the process groups of a host that died (`kill -9`, a crash, a
//! power cut of the host process only) do not outlive it.
//!
//! Before a job is spawned, a record `<data dir>/shell/running/<run id>` is written
//! (private: the directory is `0700`, the file `0600`) with the run's marker; right after
//! the spawn it is rewritten with the job's pgid; when the group is reaped it is removed.
//! Every child carries the marker as `SYSTEMPROMPT_RUN_ID=<run id>` in its environment (a
//! fresh UUID per run, so also a run nobody scheduled has one). At module start,
//! [`reap_orphans`] kills (SIGKILL) every process of each leftover record's group whose
//! `/proc/<pid>/environ` carries that marker (a reused pgid belongs to someone else, whose
//! processes lack the marker, and is never touched), then removes the record. A record
//! without a pgid (the host died between writing it and spawning) is matched by the marker
//! over all processes.
//!
//! What escapes: a descendant that cleared or replaced its environment *and* left the group
//! (`setsid`). Deliberately not here: killing live jobs (`commands/run.rs`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::process::Signal;

use crate::group;

/// The environment variable that marks a job's processes.
pub(crate) const RUN_ID_VAR: &str = "SYSTEMPROMPT_RUN_ID";

/// The directory of the records: `<data dir>/shell/running`.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    dir: PathBuf,
}

/// One run's record file; removing it is [`Record::remove`].
#[derive(Debug)]
pub(crate) struct Record {
    path: PathBuf,
    run_id: String,
    execution_id: Option<i64>,
}

impl Records {
    /// Creates the directory (private) when missing.
    pub(crate) fn open(dir: PathBuf) -> std::io::Result<Records> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        Ok(Records { dir })
    }

    /// Where the records are.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the record of a run about to be spawned (pgid not known yet).
    pub(crate) fn begin(&self, run_id: &str, execution_id: Option<i64>) -> std::io::Result<Record> {
        let record = Record { path: self.dir.join(run_id), run_id: run_id.to_owned(), execution_id };
        write_private(&record.path, &record.text(0))?;
        Ok(record)
    }

    /// Kills what leftover records describe and removes them. Returns how many processes
    /// were killed.
    pub(crate) fn reap_orphans(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            // A half-written temporary file is just removed.
            if let Some((run_id, pgid)) = std::fs::read_to_string(&path).ok().and_then(|text| parse(&text)) {
                let marker = format!("{RUN_ID_VAR}={run_id}");
                let candidates = if pgid > 0 { group::members(pgid) } else { all_pids() };
                for pid in candidates.into_iter().filter(|&pid| group::environ_has(pid, &marker)) {
                    if let Some(target) = rustix::process::Pid::from_raw(pid)
                        && rustix::process::kill_process(target, Signal::KILL).is_ok()
                    {
                        killed += 1;
                    }
                }
                tracing::warn!(run_id, pgid, killed, "Killed the processes of a job the previous host left behind.");
            }
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "Removing a leftover job record failed.");
            }
        }
        killed
    }
}

impl Record {
    /// Records the spawned job's process group.
    pub(crate) fn set_pgid(&self, pgid: i32) -> std::io::Result<()> {
        let temporary = self.path.with_extension("tmp");
        write_private(&temporary, &self.text(pgid))?;
        std::fs::rename(&temporary, &self.path)
    }

    /// Removes the record: the group is reaped.
    pub(crate) fn remove(self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "Removing a job record failed.");
        }
    }

    fn text(&self, pgid: i32) -> String {
        let execution = self.execution_id.map(|id| id.to_string()).unwrap_or_default();
        format!("run={}\npgid={pgid}\nexecution={execution}\n", self.run_id)
    }
}

fn parse(text: &str) -> Option<(String, i32)> {
    let mut run_id = None;
    let mut pgid = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("run", value)) if !value.is_empty() => run_id = Some(value.to_owned()),
            Some(("pgid", value)) => pgid = value.parse().ok(),
            _ => {}
        }
    }
    Some((run_id?, pgid?))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// Plants a record as a host that died would have left it (tests only).
#[cfg(test)]
pub(crate) fn plant(records: &Records, run_id: &str, pgid: i32) {
    let record = Record { path: records.dir.join(run_id), run_id: run_id.to_owned(), execution_id: Some(1) };
    write_private(&record.path, &record.text(pgid)).expect("the record is written");
}
