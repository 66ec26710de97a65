//! `fire` workload: the real engine and SQLite store (temp file) with a no-op in-process
//! bus; measures how late executions start and checks that every fire is a durable row.
//!
//! `bench fire --tasks 10000 --every 1s --aligned --seconds 20` (or `--staggered`).
//! Lateness is the instant the command reaches the bus minus the occurrence's scheduled
//! time. Only occurrences inside the measured window `[w0, w0 + seconds)` count, where `w0`
//! is the first whole second at least one second after the engine started; fires are
//! counted from the database (completed rows), not from the bus.
//!
//! Every run first measures the durable limit (`durable.rs`: a min-heap and one
//! group-committed SQLite row per fire, no engine) for the same N, mode and window, and
//! prints it as `durable_limit` with the ratios `cpu_per_fire_ratio` (CPU µs per fire,
//! engine over limit) and `p99_ratio`.
//!
//! With `--every 1d --staggered --tasks 1000000` it measures a large idle schedule: insert
//! time, engine start-up time, RSS and CPU while idle.
//!
//! With `--host`, the whole product path instead: a real host in this process loads the
//! `system` and `scheduler` module libraries, each task dispatches `system:echo` over the
//! command bus, and lateness is read from the scheduler's `executed` events (their `at` is
//! the instant of the bus call), collected by an in-process subscriber of the event bus on
//! a thread of its own, whose CPU the figures leave out (it is the bench's work).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use scheduler::clock::{Clock, SystemClock};
use scheduler::config::SchedulerConfig;
use scheduler::engine::{BoxFuture, DispatchError, Engine, TaskBus, TaskCall, TaskEvent};
use scheduler::store::{SqliteStore, Store};
use scheduler::task::{NewTask, TaskSchedule};

use crate::support::percentile;

struct Options {
    tasks: usize,
    every: Duration,
    aligned: bool,
    seconds: u64,
    max_concurrent: Option<usize>,
    host: bool,
    record_floor: bool,
}

fn parse(args: &[String]) -> Result<Options, Box<dyn std::error::Error>> {
    let mut options = Options {
        tasks: 1_000,
        every: Duration::from_secs(1),
        aligned: true,
        seconds: 20,
        max_concurrent: None,
        host: false,
        record_floor: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--tasks" => options.tasks = value()?.parse()?,
            "--every" => options.every = humantime::parse_duration(value()?)?,
            "--seconds" => options.seconds = value()?.parse()?,
            "--max-concurrent" => options.max_concurrent = Some(value()?.parse()?),
            "--aligned" => options.aligned = true,
            "--staggered" => options.aligned = false,
            "--host" => options.host = true,
            "--record-floor" => options.record_floor = true,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(options)
}

/// Records lateness of fires inside the window; answers at once.
pub(crate) struct NoopBus {
    pub(crate) window: (Timestamp, Timestamp),
    pub(crate) lateness_us: Mutex<Vec<u64>>,
}

impl TaskBus for NoopBus {
    fn dispatch(&self, call: TaskCall) -> BoxFuture<'static, Result<serde_json::Value, DispatchError>> {
        // Lateness is measured against the machine's wall time: the engine under test runs
        // on the real `SystemClock`.
        #[allow(clippy::disallowed_methods)]
        let now = Timestamp::now();
        let due = call.occurrence.scheduled_for;
        if due >= self.window.0 && due < self.window.1 {
            let late = now.duration_since(due).as_micros();
            let late = u64::try_from(late).unwrap_or(u64::MAX);
            self.lateness_us.lock().unwrap_or_else(|poison| poison.into_inner()).push(late);
        }
        Box::pin(std::future::ready(Ok(serde_json::Value::Null)))
    }

    fn publish(&self, _event: &TaskEvent) {}
}

/// User + system CPU seconds of this process, from /proc/self/stat.
pub(crate) fn cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

/// User + system CPU seconds of each live thread of this process, by thread id, with its
/// name (the kernel keeps 15 bytes of it).
fn cpu_by_thread() -> std::collections::BTreeMap<u64, (String, f64)> {
    let mut threads = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|tid| tid.parse::<u64>().ok()) else {
            continue;
        };
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_owned();
        threads.insert(tid, (name, cpu_seconds_in(&path.join("stat").to_string_lossy())));
    }
    threads
}

/// CPU µs per fire spent by each kind of thread (by name) between two [`cpu_by_thread`]
/// readings; a thread that ended in between is not counted.
fn cpu_us_per_fire_by_thread(
    before: &std::collections::BTreeMap<u64, (String, f64)>,
    after: &std::collections::BTreeMap<u64, (String, f64)>,
    fires: i64,
) -> serde_json::Value {
    let mut by_name = std::collections::BTreeMap::<String, f64>::new();
    for (tid, (name, seconds)) in after {
        let earlier = before.get(tid).map_or(0.0, |(_, seconds)| *seconds);
        *by_name.entry(name.clone()).or_default() += seconds - earlier;
    }
    by_name
        .into_iter()
        .filter(|(_, seconds)| *seconds > 0.0)
        .map(|(name, seconds)| (name, serde_json::json!(round(seconds * 1e6 / fires.max(1) as f64, 1))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// User + system CPU seconds from a `stat` file of /proc (a process's or a thread's).
fn cpu_seconds_in(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return f64::NAN;
    };
    // Fields after the command name (which ends with ')'): utime is 14th, stime 15th overall.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // `rest` starts at field 3 (state); utime is field 14 => index 11.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `VmRSS`/`VmHWM` line of /proc/self/status, in MB.
pub(crate) fn memory_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub(crate) fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

pub(crate) fn main(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let options = parse(args)?;
    if options.host {
        crate::support::build_modules(&["system", "scheduler"])?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let limit = durable_limit(&options, dir.path()).await?;
    let floor = if options.record_floor { Some(record_floor(&options, dir.path()).await?) } else { None };
    let path = dir.path().join("scheduler.db");
    let sqlite = Arc::new(SqliteStore::open(&path)?);
    let store: Arc<dyn Store> = sqlite.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = SchedulerConfig {
        max_concurrent_tasks: options.max_concurrent.unwrap_or(options.tasks.max(100)),
        ..SchedulerConfig::default()
    };

    // Insert the tasks, anchored one interval before a whole second: aligned tasks share the
    // anchor, staggered ones spread evenly over the interval, so every task fires once per
    // interval from the start on (a day-long interval fires during the run too).
    let insert_started = Instant::now();
    let every_signed = jiff::SignedDuration::try_from(options.every)?;
    let base = Timestamp::from_second(clock.now().as_second() + 1)?.checked_sub(every_signed)?;
    let every_ns = i128::try_from(options.every.as_nanos())?;
    let every_text = humantime::format_duration(options.every).to_string();
    let defaults = config.task_defaults();
    let mut pending = Vec::with_capacity(10_000);
    for n in 0..options.tasks {
        let anchor = Timestamp::from_nanosecond(anchor_ns(options.aligned, options.tasks, every_ns, base, n))?;
        let schedule = TaskSchedule::parse(&every_text, None, None, anchor)?;
        let command = if options.host { "system:echo" } else { "noop" };
        pending.push(NewTask::new(format!("task-{n}"), command, schedule, &defaults));
        if pending.len() == 10_000 {
            store.create_tasks(std::mem::take(&mut pending), clock.now()).await?;
        }
    }
    if !pending.is_empty() {
        store.create_tasks(pending, clock.now()).await?;
    }
    let insert_s = insert_started.elapsed().as_secs_f64();

    let started = Instant::now();
    let window_start = Timestamp::from_second(clock.now().as_second() + 2)?;
    let window_end = window_start.checked_add(jiff::SignedDuration::from_secs(i64::try_from(options.seconds)?))?;
    let bus = Arc::new(NoopBus { window: (window_start, window_end), lateness_us: Mutex::new(Vec::new()) });
    let rss_before_engine = memory_mb("VmRSS:");
    let running = if options.host {
        let modules = ["modules/system", "modules/scheduler"];
        Running::Host(HostRun::start(dir.path(), &path, &config, &modules, "", bus.clone()).await?)
    } else {
        Running::Engine(Engine::start(config, store.clone(), bus.clone(), clock.clone()).await?)
    };
    let startup_ms = started.elapsed().as_secs_f64() * 1000.0;

    // Measure CPU over the window only.
    let until = |at: Timestamp| {
        let left = at.duration_since(clock.now());
        Duration::try_from(left).unwrap_or(Duration::ZERO)
    };
    tokio::time::sleep(until(window_start)).await;
    let (cpu_start, threads_start) = (running.cpu_seconds(), cpu_by_thread());
    tokio::time::sleep(until(window_end)).await;
    let (cpu_s, threads_end) = (running.cpu_seconds() - cpu_start, cpu_by_thread());
    let rss_mb = memory_mb("VmRSS:");
    // Let the last second's executions be recorded, then stop.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    running.stop().await;

    let (from, to) = (window_start.as_millisecond(), window_end.as_millisecond());
    let (fires, distinct): (i64, i64) = sqlite
        .with_reader(move |conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*), COUNT(DISTINCT task_id || '@' || scheduled_for) FROM task_executions \
                 WHERE status = 'completed' AND scheduled_for >= ?1 AND scheduled_for < ?2",
                [from, to],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?)
        })
        .await?;
    // Rows claimed only after their instant (not ahead): their start was set by the claim.
    let claimed_late: i64 = sqlite
        .with_reader(move |conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM task_executions WHERE status = 'completed' \
                 AND scheduled_for >= ?1 AND scheduled_for < ?2 AND started_at > scheduled_for",
                [from, to],
                |row| row.get(0),
            )?)
        })
        .await?;
    let expected = expected_fires(&options, window_start, window_end, base);
    let mut lateness = bus.lateness_us.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
    lateness.sort_unstable();
    let cpu_us_per_fire = cpu_s * 1e6 / fires.max(1) as f64;
    let p99_ms = percentile(&lateness, 99.0) as f64 / 1000.0;
    let (limit, limit_expected) = limit;
    let limit_p99_ms = percentile(&limit.lateness_us, 99.0) as f64 / 1000.0;
    let line = serde_json::json!({
        "tasks": options.tasks,
        "path": if options.host { "host bus + system:echo" } else { "in-process no-op bus" },
        "every": every_text,
        "mode": if options.aligned { "aligned" } else { "staggered" },
        "seconds": options.seconds,
        "fires": fires,
        "expected_fires": expected,
        "missed": expected - distinct,
        "duplicates": fires - distinct,
        "claimed_after_due": claimed_late,
        "lateness_ms": {
            "p50": round(percentile(&lateness, 50.0) as f64 / 1000.0, 2),
            "p99": round(percentile(&lateness, 99.0) as f64 / 1000.0, 2),
            "max": round(percentile(&lateness, 100.0) as f64 / 1000.0, 2),
        },
        "cpu_s": round(cpu_s, 2),
        "rss_mb": round(rss_mb, 1),
        "peak_rss_mb": round(memory_mb("VmHWM:"), 1),
        "rss_before_engine_mb": round(rss_before_engine, 1),
        "insert_s": round(insert_s, 2),
        "startup_ms": round(startup_ms, 1),
        "cpu_us_per_fire": round(cpu_us_per_fire, 1),
        "cpu_us_per_fire_by_thread": cpu_us_per_fire_by_thread(&threads_start, &threads_end, fires),
        "durable_limit": limit.json(limit_expected),
        "cpu_per_fire_ratio": round(cpu_us_per_fire / limit.cpu_us_per_fire().max(f64::MIN_POSITIVE), 2),
        "p99_ratio": round(p99_ms / limit_p99_ms.max(0.001), 2),
    });
    let mut line = line;
    if let Some((floor, floor_expected)) = floor {
        line["record_floor"] = floor.json(floor_expected);
        line["cpu_per_fire_over_record_floor"] =
            serde_json::json!(round(cpu_us_per_fire / floor.cpu_us_per_fire().max(f64::MIN_POSITIVE), 2));
    }
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

/// The durable limit for the same N, interval, mode and window length, run first (alone on
/// the machine, like the engine after it): what it measured and the fires it expected.
async fn durable_limit(
    options: &Options,
    dir: &std::path::Path,
) -> Result<(crate::durable::Measured, i64), Box<dyn std::error::Error>> {
    measure_floor(options, dir.join("durable-limit.db"), crate::durable::Rows::One).await
}

/// Runs a floor of `durable.rs` on `db` for the run's N and mode, over a window that starts
/// now; with the fires expected in it.
async fn measure_floor(
    options: &Options,
    db: std::path::PathBuf,
    rows: crate::durable::Rows,
) -> Result<(crate::durable::Measured, i64), Box<dyn std::error::Error>> {
    #[allow(clippy::disallowed_methods)]
    let now = Timestamp::now();
    let every_signed = jiff::SignedDuration::try_from(options.every)?;
    let base = Timestamp::from_second(now.as_second() + 1)?.checked_sub(every_signed)?;
    let start = Timestamp::from_second(now.as_second() + 2)?;
    let window = (start, start.checked_add(jiff::SignedDuration::from_secs(i64::try_from(options.seconds)?))?);
    let workload =
        crate::durable::Workload { tasks: options.tasks, every: options.every, aligned: options.aligned, base, window };
    let measured =
        tokio::task::spawn_blocking(move || crate::durable::run(&workload, &db, rows).map_err(|e| e.to_string()))
            .await??;
    Ok((measured, expected_fires(options, window.0, window.1, base)))
}

/// The record floor (`durable.rs`): the durable limit's loop writing the engine's rows for
/// each fire on a scheduler database of the same N tasks, for the same mode and window.
async fn record_floor(
    options: &Options,
    dir: &std::path::Path,
) -> Result<(crate::durable::Measured, i64), Box<dyn std::error::Error>> {
    let db = dir.join("record-floor.db");
    {
        let store = SqliteStore::open(&db)?;
        let defaults = SchedulerConfig::default().task_defaults();
        #[allow(clippy::disallowed_methods)]
        let now = Timestamp::now();
        let schedule = TaskSchedule::parse("1h", None, None, now)?;
        let mut pending = Vec::with_capacity(10_000);
        for n in 0..options.tasks {
            pending.push(NewTask::new(format!("task-{n}"), "noop", schedule.clone(), &defaults));
            if pending.len() == 10_000 || n + 1 == options.tasks {
                store.create_tasks(std::mem::take(&mut pending), now).await?;
            }
        }
    }
    let conn = rusqlite::Connection::open(&db)?;
    let mut ids = vec![(String::new(), String::new()); options.tasks];
    let mut stmt = conn.prepare("SELECT id, name FROM scheduled_tasks")?;
    for row in stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))? {
        let (id, name) = row?;
        let n: usize = name.trim_start_matches("task-").parse()?;
        ids[n] = (id, name);
    }
    drop(stmt);
    drop(conn);
    measure_floor(options, db, crate::durable::Rows::Engine(ids)).await
}

/// Task `n`'s anchor, in nanoseconds: aligned tasks share `base`, staggered ones spread
/// evenly over one interval after it.
fn anchor_ns(aligned: bool, tasks: usize, every_ns: i128, base: Timestamp, n: usize) -> i128 {
    let offset = if aligned { 0 } else { every_ns * n as i128 / tasks.max(1) as i128 };
    base.as_nanosecond() + offset
}

/// Task `n`'s anchor as the scheduler stores it: floored to the millisecond.
pub(crate) fn stored_anchor_ns(aligned: bool, tasks: usize, every_ns: i128, base: Timestamp, n: usize) -> i128 {
    anchor_ns(aligned, tasks, every_ns, base, n) / 1_000_000 * 1_000_000
}

/// Occurrences of all tasks inside `[from, to)`.
fn expected_fires(options: &Options, from: Timestamp, to: Timestamp, base: Timestamp) -> i64 {
    let every = i128::try_from(options.every.as_nanos()).unwrap_or(i128::MAX).max(1);
    let (from, to) = (from.as_nanosecond(), to.as_nanosecond());
    let mut total = 0i64;
    for n in 0..options.tasks {
        let anchor = stored_anchor_ns(options.aligned, options.tasks, every, base, n);
        // Count k >= 1 with from <= anchor + k*every < to.
        let first = ((from - anchor) + every - 1).div_euclid(every).max(1);
        let last = (to - anchor - 1).div_euclid(every);
        total += i64::try_from((last - first + 1).max(0)).unwrap_or(0);
    }
    total
}

/// What runs the tasks: the engine alone, or a whole host.
enum Running {
    Engine(Engine),
    Host(HostRun),
}

impl Running {
    /// CPU seconds of this process so far, less the bench's own event subscriber.
    fn cpu_seconds(&self) -> f64 {
        match self {
            Running::Engine(_) => cpu_seconds(),
            Running::Host(host) => host.cpu_seconds(),
        }
    }

    async fn stop(self) {
        match self {
            Running::Engine(engine) => {
                engine.stop().await;
            }
            Running::Host(host) => host.stop().await,
        }
    }
}

/// A host with the real module libraries (`system` and `scheduler`, and others a workload
/// names) on the seeded database, and the subscriber that turns `executed` events into
/// lateness samples.
///
/// The subscriber is the bench's own work, not the host's: it runs on its own thread, keeps
/// only the samples (holding every event would make the bench's memory grow with the run
/// and be counted as the host's), and [`HostRun::cpu_seconds`] leaves its CPU out.
pub(crate) struct HostRun {
    host: Arc<systemprompt::host::Host>,
    listener: Option<std::thread::JoinHandle<()>>,
    // Invariant: the listener thread's id once it runs (0 before).
    listener_tid: Arc<std::sync::atomic::AtomicU64>,
}

impl HostRun {
    /// Starts the host; `modules_config` is more YAML under `modules:` (two-space indented
    /// module entries).
    pub(crate) async fn start(
        dir: &std::path::Path,
        database: &std::path::Path,
        config: &SchedulerConfig,
        modules: &[&str],
        modules_config: &str,
        samples: Arc<NoopBus>,
    ) -> Result<HostRun, Box<dyn std::error::Error>> {
        let extra = format!(
            "event_queue_capacity: 1000000\nmodules:\n  scheduler:\n    databasePath: {}\n    maxConcurrentTasks: {}\n{modules_config}",
            database.display(),
            config.max_concurrent_tasks
        );
        let host_config = crate::support::host_config(dir, modules, &extra)?;
        let host = systemprompt::host::Host::start(host_config).await?;
        if !host.skipped().is_empty() {
            return Err(format!("modules skipped: {:?}", host.skipped()).into());
        }
        let mut events = host.events().subscribe("bench", vec!["scheduler:task-event".to_owned()]);
        let listener_tid = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let tid = listener_tid.clone();
        let listener = std::thread::Builder::new().name("bench-events".to_owned()).spawn(move || {
            tid.store(thread_id(), std::sync::atomic::Ordering::SeqCst);
            while let Some(event) = events.rx.blocking_recv() {
                if string_field(&event.payload, "event") == Some(LAST_EVENT) {
                    break;
                }
                if let Some(late) = lateness_of(&event.payload, samples.window) {
                    samples.lateness_us.lock().unwrap_or_else(|poison| poison.into_inner()).push(late);
                }
            }
        })?;
        Ok(HostRun { host, listener: Some(listener), listener_tid })
    }

    /// CPU seconds of this process so far, less the bench's event subscriber.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let listener = match self.listener_tid.load(std::sync::atomic::Ordering::SeqCst) {
            0 => 0.0,
            tid => cpu_seconds_in(&format!("/proc/self/task/{tid}/stat")),
        };
        cpu_seconds() - listener
    }

    pub(crate) async fn stop(mut self) {
        self.host.stop().await;
        if let Some(listener) = self.listener.take() {
            // Events reach a subscriber in publication order: once this one arrives, the
            // thread has seen every event of the run.
            let last = serde_json::json!({ "event": LAST_EVENT }).to_string().into_bytes();
            self.host.events().publish("scheduler:task-event".to_owned(), last);
            let _ = tokio::task::spawn_blocking(move || listener.join()).await;
        }
    }
}

/// The event the bench publishes after the host stopped, to end its subscriber.
const LAST_EVENT: &str = "bench:last";

/// Lateness in µs of a scheduled `executed` event whose occurrence is inside `window`.
fn lateness_of(payload: &[u8], window: (Timestamp, Timestamp)) -> Option<u64> {
    if string_field(payload, "event")? != "executed" || string_field(payload, "trigger")? != "schedule" {
        return None;
    }
    let instant = |name: &str| string_field(payload, name).and_then(|text| text.parse::<Timestamp>().ok());
    let (due, dispatched) = (instant("scheduled_for")?, instant("at")?);
    (due >= window.0 && due < window.1)
        .then(|| u64::try_from(dispatched.duration_since(due).as_micros()).unwrap_or(u64::MAX))
}

/// The value of top-level string field `name` of a JSON object, found by its key's bytes
/// (`"name":"`) rather than by parsing the whole payload: the subscriber runs beside the
/// host and takes the machine's cores from it during a burst of fires. Exact for the
/// fields read here, whose values hold no escapes, and because a quote inside any string
/// value is escaped, a value cannot contain a key.
fn string_field<'a>(payload: &'a [u8], name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = payload.windows(key.len()).position(|window| window == key.as_bytes())? + key.len();
    let length = payload[start..].iter().position(|&byte| byte == b'"')?;
    std::str::from_utf8(&payload[start..start + length]).ok()
}

/// This thread's kernel id, from the `/proc/thread-self` link (`<pid>/task/<tid>`).
fn thread_id() -> u64 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name().and_then(|name| name.to_str()).and_then(|tid| tid.parse().ok()))
        .unwrap_or(0)
}
