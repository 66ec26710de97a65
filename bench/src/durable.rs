//! The durable limit of `fire`: what firing N tasks costs when nothing but the essential
//! work is done, measured in the same run as the engine so the two share the machine's
//! noise. A min-heap of next due times on one thread; at each instant it pops every due
//! task, hands one row per fire to a writer thread and pushes the task's next time. The
//! writer commits whatever has queued in one SQLite transaction (WAL, `synchronous =
//! NORMAL`, as the scheduler's store), and a fire counts as done when its row is committed:
//! its lateness is commit time minus its scheduled time. No schedule parsing, no events, no
//! bus: the cost per fire here is the floor the engine is compared with.
//!
//! [`Rows::Engine`] is a second floor, the record floor: the same loop writing, instead of
//! one row, the rows the engine itself writes for a fire, on the scheduler's own schema and
//! indexes: the execution row and the task's next run in one transaction per instant (the
//! claim), then the row's outcome and the task's counters in another (the finish). No
//! reads, checks, savepoints or events: what the engine's durable record costs by itself.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::Duration;

use jiff::Timestamp;

use crate::fire::{cpu_seconds, memory_mb, round, stored_anchor_ns};
use crate::support::percentile;

/// The workload: N tasks every `every`, anchored like the engine's (aligned share `base`,
/// staggered spread over one interval), measured over `window`.
pub(crate) struct Workload {
    pub(crate) tasks: usize,
    pub(crate) every: Duration,
    pub(crate) aligned: bool,
    pub(crate) base: Timestamp,
    pub(crate) window: (Timestamp, Timestamp),
}

/// What a fire writes.
pub(crate) enum Rows {
    /// One row in a table of its own.
    One,
    /// The engine's record of a fire, on a scheduler database: the id and name of tasks
    /// 0..N, in order.
    Engine(Vec<(String, String)>),
}

/// What the limit measured.
pub(crate) struct Measured {
    pub(crate) fires: u64,
    pub(crate) lateness_us: Vec<u64>,
    pub(crate) cpu_s: f64,
    pub(crate) peak_rss_mb: f64,
}

impl Measured {
    /// CPU microseconds per fire inside the window.
    pub(crate) fn cpu_us_per_fire(&self) -> f64 {
        self.cpu_s * 1e6 / self.fires.max(1) as f64
    }

    /// The JSON object `fire` prints as `durable_limit`.
    pub(crate) fn json(&self, expected: i64) -> serde_json::Value {
        let ms = |p: f64| round(percentile(&self.lateness_us, p) as f64 / 1000.0, 2);
        serde_json::json!({
            "fires": self.fires,
            "missed": expected - i64::try_from(self.fires).unwrap_or(i64::MAX),
            "lateness_ms": { "p50": ms(50.0), "p99": ms(99.0), "max": ms(100.0) },
            "cpu_s": round(self.cpu_s, 2),
            "cpu_us_per_fire": round(self.cpu_us_per_fire(), 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        })
    }
}

fn now_ns() -> i128 {
    // The limit, like the engine under test, runs on the machine's wall time.
    #[allow(clippy::disallowed_methods)]
    Timestamp::now().as_nanosecond()
}

/// Runs the limit until the window's end; blocks the calling thread.
pub(crate) fn run(
    workload: &Workload,
    db: &std::path::Path,
    rows: Rows,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let every = i128::try_from(workload.every.as_nanos())?.max(1);
    let (from, to) = (workload.window.0.as_nanosecond(), workload.window.1.as_nanosecond());
    let mut heap = BinaryHeap::with_capacity(workload.tasks);
    for n in 0..workload.tasks {
        let anchor = stored_anchor_ns(workload.aligned, workload.tasks, every, workload.base, n);
        heap.push(Reverse((anchor + every, u32::try_from(n)?)));
    }

    let conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    if matches!(rows, Rows::One) {
        conn.execute_batch(
            "CREATE TABLE fires (id INTEGER PRIMARY KEY, task INTEGER NOT NULL, scheduled_for INTEGER NOT NULL, \
             fired_at INTEGER NOT NULL) STRICT",
        )?;
    }
    let every_ms = i64::try_from(every / 1_000_000)?;
    let (tx, rx) = mpsc::channel::<(u32, i128)>();
    let writer = std::thread::spawn(move || -> Result<(u64, Vec<u64>), rusqlite::Error> {
        let mut fires = 0u64;
        let mut lateness = Vec::new();
        let mut group = Vec::new();
        while let Ok(first) = rx.recv() {
            group.clear();
            group.push(first);
            group.extend(rx.try_iter());
            let fired_at = i64::try_from(now_ns() / 1_000_000).unwrap_or(i64::MAX);
            let due_ms = |due: &i128| i64::try_from(due / 1_000_000).unwrap_or(i64::MAX);
            let finishing = match &rows {
                Rows::One => {
                    conn.execute_batch("BEGIN")?;
                    let mut insert =
                        conn.prepare_cached("INSERT INTO fires (task, scheduled_for, fired_at) VALUES (?1, ?2, ?3)")?;
                    for (task, due) in &group {
                        insert.execute(rusqlite::params![task, due_ms(due), fired_at])?;
                    }
                    Vec::new()
                }
                Rows::Engine(ids) => {
                    conn.execute_batch("BEGIN IMMEDIATE")?;
                    let mut insert = conn.prepare_cached(
                        "INSERT INTO task_executions (task_id, task_name, origin, trigger, scheduled_for, attempt, \
                         status, created_at, started_at, deadline_at, node_id, clock_epoch) \
                         VALUES (?1, ?2, 'schedule', 'schedule', ?3, 1, 'running', ?4, ?4, ?5, 'floor', 0)",
                    )?;
                    let mut advance =
                        conn.prepare_cached("UPDATE scheduled_tasks SET next_run_at = ?2 WHERE id = ?1")?;
                    let mut inserted = Vec::with_capacity(group.len());
                    for (task, due) in &group {
                        let (id, name) = &ids[*task as usize];
                        let due = due_ms(due);
                        insert.execute(rusqlite::params![id, name, due, fired_at, fired_at + 60_000])?;
                        inserted.push((id, conn.last_insert_rowid()));
                        advance.execute(rusqlite::params![id, due + every_ms])?;
                    }
                    inserted
                }
            };
            conn.execute_batch("COMMIT")?;
            let committed = now_ns();
            if !finishing.is_empty() {
                let finished_at = i64::try_from(committed / 1_000_000).unwrap_or(i64::MAX);
                conn.execute_batch("BEGIN IMMEDIATE")?;
                let mut end = conn.prepare_cached(
                    "UPDATE task_executions SET status = 'completed', finished_at = ?2, duration_ms = 0, \
                     output = 'null' WHERE id = ?1",
                )?;
                let mut count = conn.prepare_cached(
                    "UPDATE scheduled_tasks SET run_count = run_count + 1, success_count = success_count + 1, \
                     consecutive_failures = 0, last_status = 'completed', last_error = NULL WHERE id = ?1",
                )?;
                for (task_id, execution_id) in finishing {
                    end.execute(rusqlite::params![execution_id, finished_at])?;
                    count.execute([task_id])?;
                }
                conn.execute_batch("COMMIT")?;
            }
            for (_, due) in &group {
                if (from..to).contains(due) {
                    fires += 1;
                    lateness.push(u64::try_from((committed - due).max(0) / 1_000).unwrap_or(u64::MAX));
                }
            }
        }
        Ok((fires, lateness))
    });

    let mut cpu_start = None;
    while let Some(&Reverse((due, task))) = heap.peek() {
        if due >= to {
            break;
        }
        let now = now_ns();
        if cpu_start.is_none() && now >= from {
            cpu_start = Some(cpu_seconds());
        }
        if due > now {
            let wait = u64::try_from(due - now).unwrap_or(0);
            std::thread::sleep(Duration::from_nanos(wait));
            continue;
        }
        heap.pop();
        tx.send((task, due))?;
        heap.push(Reverse((due + every, task)));
    }
    // The rows of the window's last instant are committed before the CPU is read.
    drop(tx);
    let (fires, mut lateness_us) = writer.join().map_err(|_| "the limit's writer panicked")??;
    let cpu_s = cpu_seconds() - cpu_start.unwrap_or_else(cpu_seconds);
    lateness_us.sort_unstable();
    Ok(Measured { fires, lateness_us, cpu_s, peak_rss_mb: memory_mb("VmHWM:") })
}
