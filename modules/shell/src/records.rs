//! Running-job records, so the process groups of a host that died (`kill -9`, a crash, a
//! power cut of the host process only) do not outlive it.
//!
//! The records are one append-only journal, `<data dir>/shell/running/journal` (private:
//! the directory is `0700`, the file `0600`), one line per event: `begin <run id>
//! <execution id|->` before a job is spawned, `pgid <run id> <pgid>` right after, `end <run
//! id>` once its group is reaped. Every child carries the marker `SYSTEMPROMPT_RUN_ID=<run
//! id>` in its environment (a fresh UUID per run, so also a run nobody scheduled has one).
//! At module start, [`Records::reap_orphans`] replays the journal and, for each run begun
//! and not ended, kills (SIGKILL) every process of its group whose `/proc/<pid>/environ`
//! carries that marker (a reused pgid belongs to someone else, whose processes lack the
//! marker, and is never touched); a run without a pgid (the host died between writing its
//! `begin` and spawning) is matched by the marker over all processes. The journal is then
//! rewritten with only the runs still live, as it is whenever it grows past
//! [`COMPACT_BYTES`].
//!
//! Why a journal and not a file per run: creating, renaming and unlinking a file per run
//! was most of the runner's own cost for short jobs (ext4 inode allocation and a data flush
//! on every rename); an append is one `write`. Like the files before it, the journal is not
//! fsynced: it must survive the host process, not the machine (a reboot ends the jobs too).
//!
//! What escapes: a descendant that cleared or replaced its environment *and* left the group
//! (`setsid`). Deliberately not here: killing live jobs (`commands/run.rs`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::process::Signal;

use crate::group;

/// The environment variable that marks a job's processes.
pub(crate) const RUN_ID_VAR: &str = "SYSTEMPROMPT_RUN_ID";

/// The journal is rewritten with only its live runs once it is this long.
const COMPACT_BYTES: u64 = 256 * 1024;

/// A run the journal knows: its execution (none for a run by hand) and pgid (0 before the
/// spawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Live {
    execution_id: Option<i64>,
    pgid: i32,
}

#[derive(Debug)]
struct Journal {
    file: File,
    bytes: u64,
    live: HashMap<String, Live>,
}

/// The journal of running jobs (cheap to clone: one shared file).
#[derive(Debug, Clone)]
pub(crate) struct Records {
    dir: PathBuf,
    journal: Arc<Mutex<Journal>>,
}

/// One run's place in the journal; [`Record::remove`] ends it.
#[derive(Debug)]
pub(crate) struct Record {
    records: Records,
    run_id: String,
}

impl Records {
    /// Creates the directory (private) when missing and opens the journal for appending;
    /// what an earlier host left in it is read by [`Records::reap_orphans`].
    pub(crate) fn open(dir: PathBuf) -> std::io::Result<Records> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let file = open_append(&journal_path(&dir))?;
        let bytes = file.metadata()?.len();
        Ok(Records { dir, journal: Arc::new(Mutex::new(Journal { file, bytes, live: HashMap::new() })) })
    }

    /// Where the journal is.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a run about to be spawned (pgid not known yet).
    pub(crate) fn begin(&self, run_id: &str, execution_id: Option<i64>) -> std::io::Result<Record> {
        let mut journal = self.lock();
        journal.append(&begin_line(run_id, execution_id))?;
        journal.live.insert(run_id.to_owned(), Live { execution_id, pgid: 0 });
        Ok(Record { records: self.clone(), run_id: run_id.to_owned() })
    }

    /// Runs begun and not ended according to the journal on disk, as a restarted host would
    /// find them (tests only).
    #[cfg(test)]
    pub(crate) fn recorded(&self) -> Vec<(String, i32)> {
        let text = std::fs::read_to_string(journal_path(&self.dir)).unwrap_or_default();
        let mut runs: Vec<(String, i32)> = replay(&text).into_iter().map(|(run, live)| (run, live.pgid)).collect();
        runs.sort();
        runs
    }

    /// Kills what the runs an earlier host left unended describe, then rewrites the journal
    /// with only this host's live runs. Returns how many processes were killed.
    pub(crate) fn reap_orphans(&self) -> usize {
        let text = std::fs::read_to_string(journal_path(&self.dir)).unwrap_or_default();
        let mut journal = self.lock();
        let mut killed = 0;
        for (run_id, left) in replay(&text) {
            if journal.live.contains_key(&run_id) {
                continue;
            }
            let marker = format!("{RUN_ID_VAR}={run_id}");
            let candidates = if left.pgid > 0 { group::members(left.pgid) } else { all_pids() };
            let mut run_killed = 0;
            for pid in candidates.into_iter().filter(|&pid| group::environ_has(pid, &marker)) {
                if let Some(target) = rustix::process::Pid::from_raw(pid)
                    && rustix::process::kill_process(target, Signal::KILL).is_ok()
                {
                    run_killed += 1;
                }
            }
            killed += run_killed;
            tracing::warn!(
                run_id,
                pgid = left.pgid,
                execution_id = left.execution_id,
                killed = run_killed,
                "Killed the processes of a job the previous host left behind."
            );
        }
        if let Err(error) = journal.compact(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %error, "Rewriting the job journal failed.");
        }
        killed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Record {
    /// Records the spawned job's process group.
    pub(crate) fn set_pgid(&self, pgid: i32) -> std::io::Result<()> {
        let mut journal = self.records.lock();
        if let Some(live) = journal.live.get_mut(&self.run_id) {
            live.pgid = pgid;
        }
        journal.append(&pgid_line(&self.run_id, pgid))
    }

    /// Ends the record: the group is reaped.
    pub(crate) fn remove(self) {
        let mut journal = self.records.lock();
        journal.live.remove(&self.run_id);
        if let Err(error) = journal.append(&format!("end {}\n", self.run_id)) {
            tracing::warn!(run_id = self.run_id, %error, "Recording a job's end failed.");
        }
        if journal.bytes >= COMPACT_BYTES
            && let Err(error) = journal.compact(&self.records.dir)
        {
            tracing::warn!(dir = %self.records.dir.display(), %error, "Rewriting the job journal failed.");
        }
    }
}

impl Journal {
    fn append(&mut self, line: &str) -> std::io::Result<()> {
        self.file.write_all(line.as_bytes())?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Replaces the journal with the `begin` and `pgid` lines of the live runs (written to a
    /// temporary file and renamed over, so a crash leaves the old or the new one whole).
    fn compact(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        for (run_id, live) in &self.live {
            text.push_str(&begin_line(run_id, live.execution_id));
            if live.pgid > 0 {
                text.push_str(&pgid_line(run_id, live.pgid));
            }
        }
        let temporary = dir.join("journal.tmp");
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.write_all(text.as_bytes())?;
        std::fs::rename(&temporary, journal_path(dir))?;
        self.file = open_append(&journal_path(dir))?;
        self.bytes = text.len() as u64;
        Ok(())
    }
}

/// The journal line of a run about to be spawned (`-`: a run by hand, no execution).
fn begin_line(run_id: &str, execution_id: Option<i64>) -> String {
    let execution = execution_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    format!("begin {run_id} {execution}\n")
}

/// The journal line of a spawned run's process group.
fn pgid_line(run_id: &str, pgid: i32) -> String {
    format!("pgid {run_id} {pgid}\n")
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join("journal")
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path)
}

/// The runs begun and not ended in a journal's text. A torn last line (the host died
/// mid-write) is ignored, as is anything unreadable.
fn replay(text: &str) -> HashMap<String, Live> {
    let mut live = HashMap::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("begin"), Some(run), Some(execution)) if !run.is_empty() => {
                live.insert(run.to_owned(), Live { execution_id: execution.parse().ok(), pgid: 0 });
            }
            (Some("pgid"), Some(run), Some(pgid)) => {
                if let (Some(entry), Ok(pgid)) = (live.get_mut(run), pgid.parse()) {
                    entry.pgid = pgid;
                }
            }
            (Some("end"), Some(run), None) => {
                live.remove(run);
            }
            _ => {}
        }
    }
    live
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

/// Appends a run as a host that died would have left it (tests only).
#[cfg(test)]
pub(crate) fn plant(records: &Records, run_id: &str, pgid: i32) {
    let mut journal = records.lock();
    let lines = begin_line(run_id, Some(1)) + &pgid_line(run_id, pgid);
    journal.append(&lines).expect("the journal is written");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_runs_begun_and_not_ended_and_ignores_a_torn_line() {
        let text = "begin a 7\npgid a 100\nbegin b -\nend a\nbegin c 9\npgid c 300\npgid b";
        let live = replay(text);
        assert_eq!(live.len(), 2);
        assert_eq!(live["b"], Live { execution_id: None, pgid: 0 }, "begun, never spawned; the torn pgid line ignored");
        assert_eq!(live["c"], Live { execution_id: Some(9), pgid: 300 });
    }

    #[test]
    fn a_long_journal_is_compacted_to_its_live_runs() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let records = Records::open(dir.path().join("running")).expect("open");
        let kept = records.begin("kept", Some(1)).expect("begin");
        kept.set_pgid(4242).expect("pgid");
        let line = "x".repeat(36);
        for n in 0..3_000 {
            let record = records.begin(&format!("{line}{n}"), Some(n)).expect("begin");
            record.set_pgid(1).expect("pgid");
            record.remove();
        }
        let size = std::fs::metadata(journal_path(records.dir())).expect("journal").len();
        assert!(size < COMPACT_BYTES, "compacted: {size} bytes");
        assert_eq!(records.recorded(), [("kept".to_owned(), 4242)]);
        kept.remove();
        assert!(records.recorded().is_empty());
    }
}
