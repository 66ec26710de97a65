//! `spawn` workload: real programs through the whole product path. A host in this process
//! loads the `system`, `scheduler` and `shell` libraries; tasks are seeded in the
//! scheduler's database and each run is `shell:run` starting a real process. Three parts,
//! each beside a baseline measured in the same run (the machines are shared and noisy):
//!
//! - `throughput`: `--tasks` tasks due every second, aligned, each running `/bin/true`, at
//!   most `--concurrency` at once (5,000 by default: more than the machine can start, so
//!   the scheduler, not the supply of due work, is the limit): executions completed per
//!   second over `--seconds`, against a plain loop of `--concurrency` threads that spawn
//!   `/bin/true` and wait.
//! - `lateness`: `--per-second` tasks due on every second, aligned, running `/bin/true`:
//!   p50/p99 of dispatch minus scheduled time (the `executed` events' `at`).
//! - `capture`: one job printing `--output-mb` MB of `--line-bytes` lines (100 by default,
//!   with their newline), the cap above that:
//!   MB/s over its run time and lines stored against lines printed, against the same
//!   producer read to the end by a plain loop.
//!
//! `bench spawn [--part throughput|lateness|capture] [--tasks 5000] [--concurrency 16]
//! [--seconds 10] [--per-second 100] [--output-mb 100] [--line-bytes 100]`, one JSON line.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use scheduler::clock::{Clock, SystemClock};
use scheduler::config::SchedulerConfig;
use scheduler::store::{SqliteStore, Store};
use scheduler::task::{NewTask, TaskSchedule};

use crate::fire::{HostRun, NoopBus, round};
use crate::support::percentile;

type BoxError = Box<dyn std::error::Error>;

/// What the capture part's producer repeats, cut to `--line-bytes` less the newline.
const LINE_TEXT: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

struct Options {
    part: Option<String>,
    tasks: usize,
    concurrency: usize,
    seconds: u64,
    per_second: usize,
    output_mb: u64,
    line_bytes: usize,
}

fn parse(args: &[String]) -> Result<Options, BoxError> {
    let mut options = Options {
        part: None,
        tasks: 5_000,
        concurrency: 16,
        seconds: 10,
        per_second: 100,
        output_mb: 100,
        line_bytes: 100,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--part" => options.part = Some(value()?.clone()),
            "--tasks" => options.tasks = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--seconds" => options.seconds = value()?.parse()?,
            "--per-second" => options.per_second = value()?.parse()?,
            "--output-mb" => options.output_mb = value()?.parse()?,
            "--line-bytes" => options.line_bytes = value()?.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if !(2..=16_384).contains(&options.line_bytes) {
        return Err("--line-bytes must be 2 to 16384 (the shell module's maxLineBytes)".into());
    }
    if let Some(part) = &options.part
        && !PARTS.contains(&part.as_str())
    {
        return Err(format!("unknown part '{part}'; parts: throughput, lateness, capture").into());
    }
    Ok(options)
}

/// The parts, in the order they run.
const PARTS: [&str; 3] = ["throughput", "lateness", "capture"];

pub(crate) fn main(args: &[String]) -> Result<(), BoxError> {
    let options = parse(args)?;
    crate::support::build_modules(&["system", "scheduler", "shell"])?;
    let line = match options.part.as_deref() {
        Some(part) => run_part(part, &options)?,
        None => {
            // A module library initialises once per process, so each part runs in its own.
            let mut line = serde_json::Map::new();
            for part in PARTS {
                let output = Command::new(std::env::current_exe()?)
                    .arg("spawn")
                    .args(args)
                    .args(["--part", part])
                    .stderr(Stdio::inherit())
                    .output()?;
                if !output.status.success() {
                    return Err(format!("part {part} failed ({})", output.status).into());
                }
                let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
                line.insert(part.to_owned(), value[part].clone());
            }
            serde_json::Value::Object(line)
        }
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

/// One part in this process: `{"<part>": {...}}`.
fn run_part(part: &str, options: &Options) -> Result<serde_json::Value, BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let value = match part {
        "throughput" => runtime.block_on(throughput(options))?,
        "lateness" => runtime.block_on(lateness(options))?,
        _ => runtime.block_on(capture(options))?,
    };
    Ok(serde_json::json!({ part: value }))
}

/// The host, its database and the window its measurements count.
struct Rig {
    _dir: tempfile::TempDir,
    sqlite: Arc<SqliteStore>,
    host: HostRun,
    samples: Arc<NoopBus>,
    window: (Timestamp, Timestamp),
}

/// Seeds `tasks` shell tasks due every `every`, all at the same instants (the next whole
/// second on), and starts a host on them; the window opens two seconds later.
async fn rig(
    tasks: usize,
    every: &str,
    data: serde_json::Value,
    concurrency: usize,
    seconds: u64,
    shell_config: &str,
) -> Result<Rig, BoxError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("scheduler.db");
    let sqlite = Arc::new(SqliteStore::open(&path)?);
    let clock = SystemClock;
    let config = SchedulerConfig { max_concurrent_tasks: concurrency, ..SchedulerConfig::default() };
    let defaults = config.task_defaults();
    let every_duration = jiff::SignedDuration::try_from(humantime::parse_duration(every)?)?;
    let anchor = Timestamp::from_second(clock.now().as_second() + 2)?.checked_sub(every_duration)?;
    let mut pending = Vec::with_capacity(tasks);
    for n in 0..tasks {
        let schedule = TaskSchedule::parse(every, None, None, anchor)?;
        let mut task = NewTask::new(format!("job-{n}"), "shell:run", schedule, &defaults);
        task.data = data.clone();
        // Every occurrence is one execution: no retries, no catching up after a slow second.
        task.retries = 0;
        pending.push(task);
    }
    sqlite.create_tasks(pending, clock.now()).await?;
    let start = Timestamp::from_second(clock.now().as_second() + 3)?;
    let window = (start, start.checked_add(jiff::SignedDuration::from_secs(i64::try_from(seconds)?))?);
    let samples = Arc::new(NoopBus { window, lateness_us: Mutex::new(Vec::new()) });
    let modules = ["modules/system", "modules/scheduler", "modules/shell"];
    let host = HostRun::start(dir.path(), &path, &config, &modules, shell_config, samples.clone()).await?;
    Ok(Rig { _dir: dir, sqlite, host, samples, window })
}

/// Sleeps until the wall clock reaches `at`.
async fn until(at: Timestamp) {
    let left = at.duration_since(SystemClock.now());
    tokio::time::sleep(Duration::try_from(left).unwrap_or(Duration::ZERO)).await;
}

/// Executions in `status` whose `column` (`finished_at`, `scheduled_for`) is inside
/// `[from, to)`.
async fn executions_between(
    sqlite: &SqliteStore,
    status: &'static str,
    column: &'static str,
    window: (Timestamp, Timestamp),
) -> Result<i64, BoxError> {
    let (from, to) = (window.0.as_millisecond(), window.1.as_millisecond());
    let sql =
        format!("SELECT COUNT(*) FROM task_executions WHERE status = '{status}' AND {column} >= ?1 AND {column} < ?2");
    Ok(sqlite.with_reader(move |conn| Ok(conn.query_row(&sql, [from, to], |row| row.get(0))?)).await?)
}

/// `threads` threads spawning `/bin/true` and waiting for it, for `seconds`: spawns/s.
fn plain_spawn_loop(threads: usize, seconds: u64) -> f64 {
    let spawned = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while Instant::now() < deadline {
                    let status = Command::new("/bin/true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    if status.is_ok_and(|status| status.success()) {
                        spawned.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    spawned.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(options: &Options) -> Result<serde_json::Value, BoxError> {
    let (threads, seconds) = (options.concurrency, options.seconds);
    let baseline = tokio::task::spawn_blocking(move || plain_spawn_loop(threads, seconds)).await?;
    let data = serde_json::json!({ "program": "/bin/true" });
    let rig = rig(options.tasks, "1s", data, options.concurrency, options.seconds, "").await?;
    until(rig.window.0).await;
    let cpu_start = rig.host.cpu_seconds();
    until(rig.window.1).await;
    let cpu_s = rig.host.cpu_seconds() - cpu_start;
    let completed = executions_between(&rig.sqlite, "completed", "finished_at", rig.window).await?;
    // Occurrences the engine could not start in time and recorded as skipped.
    let skipped = executions_between(&rig.sqlite, "skipped", "finished_at", rig.window).await?;
    let (from, to) = (rig.window.0.as_millisecond(), rig.window.1.as_millisecond());
    // How long one run holds its slot, as the engine recorded it.
    let run_ms: f64 = rig
        .sqlite
        .with_reader(move |conn| {
            Ok(conn.query_row(
                "SELECT COALESCE(AVG(duration_ms), 0.0) FROM task_executions WHERE status = 'completed' \
                 AND finished_at >= ?1 AND finished_at < ?2",
                [from, to],
                |row| row.get(0),
            )?)
        })
        .await?;
    rig.host.stop().await;
    let per_second = completed as f64 / options.seconds as f64;
    Ok(serde_json::json!({
        "tasks": options.tasks,
        "concurrency": options.concurrency,
        "seconds": options.seconds,
        "scheduler_per_s": round(per_second, 1),
        "baseline_per_s": round(baseline, 1),
        "ratio": round(per_second / baseline, 3),
        "avg_run_ms": round(run_ms, 2),
        "skipped": skipped,
        "host_cpu_s": round(cpu_s, 2),
    }))
}

async fn lateness(options: &Options) -> Result<serde_json::Value, BoxError> {
    let data = serde_json::json!({ "program": "/bin/true" });
    let concurrency = options.per_second.max(1) * 2;
    let rig = rig(options.per_second, "1s", data, concurrency, options.seconds, "").await?;
    until(rig.window.1).await;
    // The last second's runs end and are recorded.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let completed = executions_between(&rig.sqlite, "completed", "scheduled_for", rig.window).await?;
    rig.host.stop().await;
    let mut samples = rig.samples.lateness_us.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
    samples.sort_unstable();
    let ms = |p: f64| round(percentile(&samples, p) as f64 / 1000.0, 2);
    Ok(serde_json::json!({
        "per_second": options.per_second,
        "seconds": options.seconds,
        "fires": samples.len(),
        "expected_fires": options.per_second as u64 * options.seconds,
        "completed": completed,
        "lateness_ms": { "p50": ms(50.0), "p99": ms(99.0), "max": ms(100.0) },
    }))
}

/// The capture producer's line (without its newline): `line_bytes - 1` characters.
fn line(line_bytes: usize) -> String {
    LINE_TEXT.chars().cycle().take(line_bytes - 1).collect()
}

/// The capture producer's argv: `yes LINE | head -c BYTES` (one `sh -c`).
fn producer(bytes: u64, line_bytes: usize) -> Vec<String> {
    vec!["-c".to_owned(), format!("yes {} | head -c {bytes}", line(line_bytes))]
}

/// The producer's output read to the end by a plain loop: MB/s.
fn plain_capture(bytes: u64, line_bytes: usize) -> Result<f64, String> {
    let started = Instant::now();
    let mut child = Command::new("/bin/sh")
        .args(producer(bytes, line_bytes))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("starting the producer: {error}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = stdout.read(&mut buffer).map_err(|error| format!("reading the producer: {error}"))?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    child.wait().map_err(|error| format!("waiting for the producer: {error}"))?;
    if read != bytes {
        return Err(format!("the plain loop read {read} of {bytes} bytes"));
    }
    Ok(bytes as f64 / 1e6 / started.elapsed().as_secs_f64())
}

async fn capture(options: &Options) -> Result<serde_json::Value, BoxError> {
    let bytes = options.output_mb * 1_000_000;
    let line_bytes = options.line_bytes;
    let baseline = tokio::task::spawn_blocking(move || plain_capture(bytes, line_bytes)).await??;
    let data = serde_json::json!({ "program": "/bin/sh", "args": producer(bytes, line_bytes) });
    let shell = format!("  shell:\n    maxOutputBytes: {}\n", bytes * 2);
    let rig = rig(1, "1h", data, 1, 1, &shell).await?;
    let sqlite = rig.sqlite.clone();
    let row = wait_for_execution(&sqlite, Duration::from_secs(600)).await?;
    rig.host.stop().await;
    let (id, status, duration_ms) = row;
    // Bytes without the newlines, which end lines rather than belong to them (a chunk's
    // text is its lines joined by `\n`).
    let (lines, stored): (i64, i64) = sqlite
        .with_reader(move |conn| {
            Ok(conn.query_row(
                "SELECT COALESCE(SUM(line_count), 0), COALESCE(SUM(LENGTH(CAST(text AS BLOB)) - line_count + 1), 0) \
                 FROM task_logs WHERE execution_id = ?1 AND stream = 'stdout'",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?)
        })
        .await?;
    let printed_lines = bytes.div_ceil(line_bytes as u64);
    let mb_per_s = bytes as f64 / 1e6 / (duration_ms.max(1) as f64 / 1000.0);
    Ok(serde_json::json!({
        "output_mb": options.output_mb,
        "line_bytes": line_bytes,
        "status": status,
        "run_ms": duration_ms,
        "scheduler_mb_per_s": round(mb_per_s, 1),
        "baseline_mb_per_s": round(baseline, 1),
        "ratio": round(mb_per_s / baseline, 3),
        "lines_printed": printed_lines,
        "lines_stored": lines,
        "bytes_stored": stored,
        "lost_bytes": (bytes - bytes / line_bytes as u64) as i64 - stored,
        "lost_lines": printed_lines as i64 - lines,
    }))
}

/// The first ended execution: its id, status and run time.
async fn wait_for_execution(sqlite: &SqliteStore, limit: Duration) -> Result<(i64, String, i64), BoxError> {
    let started = Instant::now();
    loop {
        let row: Option<(i64, String, i64)> = sqlite
            .with_reader(|conn| {
                Ok(conn
                    .query_row(
                        "SELECT id, status, duration_ms FROM task_executions WHERE finished_at IS NOT NULL LIMIT 1",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?)
            })
            .await?;
        if let Some(row) = row {
            return Ok(row);
        }
        if started.elapsed() > limit {
            return Err("the capture job did not end".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
