//! Wall-clock jumps backwards (issue 8, item 4): the engine sees the jump, says so, and fires
//! at the new wall clock's instants without writing any occurrence twice.

use std::io::Write;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;

use super::{Harness, at, pass, secs};
use crate::task::Task;

/// Log lines written while the guard lives, for asserting on warnings.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this thread's warnings. `tracing` caches each call site's interest for the
/// whole process, computed (while only one dispatcher exists) from the default of whichever
/// thread reaches it first: a sibling test with no subscriber would cache the warning as
/// never wanted. A second dispatcher that wants everything, kept for the process, makes the
/// interest the union of all dispatchers, so the capture always sees its events.
fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    static ANCHOR: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ANCHOR.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (captured, guard)
}

/// Occurrence rows written twice for one (task, scheduled_for, attempt, clock_epoch).
async fn duplicated_occurrences(harness: &Harness) -> i64 {
    harness
        .sqlite
        .with_reader(|conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM (SELECT COUNT(*) AS n FROM task_executions WHERE origin = 'schedule' \
                 GROUP BY task_id, scheduled_for, attempt, clock_epoch HAVING n > 1)",
                [],
                |row| row.get(0),
            )?)
        })
        .await
        .expect("query")
}

/// The clock epochs of a task's execution rows for occurrence `when`, oldest first.
async fn epochs_of(harness: &Harness, task: &Task, when: &str) -> Vec<i64> {
    let id = task.id.to_string();
    let when = at(when).as_millisecond();
    harness
        .sqlite
        .with_reader(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT clock_epoch FROM task_executions WHERE task_id = ?1 AND scheduled_for = ?2 ORDER BY id",
            )?;
            let epochs = stmt.query_map(rusqlite::params![id, when], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok(epochs)
        })
        .await
        .expect("query")
}

#[tokio::test(start_paused = true)]
async fn after_the_clock_is_set_back_an_hour_a_minute_task_fires_at_the_new_wall_clocks_minutes() {
    let (logs, _guard) = capture_logs();
    let mut harness = Harness::new("2026-01-01T10:00:00Z");
    // Production's tick: the loop wakes at least this often, so it sees the jump within it.
    harness.config.tick_interval = 1_000;
    let minute = harness.create("minute", "ok", "* * * * *").await;
    let daily = harness.create("daily", "ok", "30 10 * * *").await;
    let engine = harness.start().await;
    pass(secs(3_600 + 30)).await;
    let before = harness.bus.calls().len();
    assert_eq!(before, 61, "10:01 to 11:00 every minute, and 10:30 daily");

    // 11:00:30 becomes 10:00:30; tokio's monotonic clock does not move.
    harness.clock.jump_signed(SignedDuration::from_hours(-1));
    assert_eq!(harness.now(), at("2026-01-01T10:00:30Z"));
    pass(secs(140)).await;

    let after: Vec<_> = harness.bus.calls().into_iter().skip(before).collect();
    let fired: Vec<String> = after.iter().map(|call| call.scheduled_for.to_string()).collect();
    assert_eq!(fired, ["2026-01-01T10:01:00Z", "2026-01-01T10:02:00Z"], "the minute task keeps firing");
    for call in &after {
        assert_eq!(call.at, call.scheduled_for, "on time at the new wall clock");
    }
    assert_eq!(harness.reload(&minute).await.next_run_at, Some(at("2026-01-01T10:03:00Z")));
    // The daily task already fired at 10:30 today: it does not fire again at the new 10:30.
    assert_eq!(harness.reload(&daily).await.next_run_at, Some(at("2026-01-02T10:30:00Z")));
    // Stopped before reading the file directly: those reads do not hold the paused clock.
    engine.stop().await;
    // The re-lived instant is a new occurrence, of clock epoch 1; the old row is untouched.
    assert_eq!(epochs_of(&harness, &minute, "2026-01-01T10:01:00Z").await, [0, 1]);
    assert_eq!(duplicated_occurrences(&harness).await, 0);

    let jumps: Vec<(i64, i64)> = harness
        .sqlite
        .with_reader(|conn| {
            let mut stmt = conn.prepare("SELECT epoch, jump_ms FROM clock_epochs ORDER BY epoch")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
        .expect("epochs");
    assert_eq!(jumps, [(1, 3_600_000)], "one jump of one hour recorded");
    let logged = logs.text();
    assert!(logged.contains("The wall clock went back") && logged.contains("jump_ms=3600000"), "{logged}");
}

#[tokio::test(start_paused = true)]
async fn after_the_clock_is_set_back_the_daily_task_runs_once_at_its_next_day() {
    // The harness's one-minute tick: the jump is seen within a minute, long before 10:30.
    let harness = Harness::new("2026-01-01T10:00:00Z");
    let daily = harness.create("daily", "ok", "30 10 * * *").await;
    let engine = harness.start().await;
    pass(secs(3_600)).await;
    harness.clock.jump_signed(SignedDuration::from_hours(-1));
    // From 10:00 through the re-lived 10:30 and on past the next day's.
    pass(secs(86_400 + 3_600)).await;
    let fired: Vec<String> = harness.bus.calls().iter().map(|call| call.scheduled_for.to_string()).collect();
    assert_eq!(fired, ["2026-01-01T10:30:00Z", "2026-01-02T10:30:00Z"]);
    assert_eq!(harness.executions(&daily).await.len(), 2);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_queued_before_the_clock_is_set_back_waits_its_delay_not_the_jump() {
    let mut harness = Harness::new("2026-01-01T10:00:00Z");
    harness.config.tick_interval = 1_000;
    let task = harness
        .create_with("flaky", "fail", "2026-01-01T10:00:10Z", |task| {
            task.retries = 1;
            task.retry_delay = secs(60);
        })
        .await;
    let engine = harness.start().await;
    pass(secs(20)).await;
    assert_eq!(harness.bus.calls().len(), 1, "the first attempt failed at 10:00:10");
    harness.clock.jump_signed(SignedDuration::from_hours(-1));
    // The retry was due at 10:01:10, 60 s after the failure: it is now due at 09:01:10,
    // still 60 s after the failure in elapsed time.
    pass(secs(60)).await;
    let calls = harness.bus.calls();
    assert_eq!(calls.len(), 2, "the retry ran after its delay, not an hour later");
    assert_eq!(calls[1].attempt, 2);
    assert_eq!(calls[1].at, at("2026-01-01T09:01:10Z"));
    assert_eq!(harness.executions(&task).await.len(), 2);
    engine.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_interval_task_created_after_the_new_wall_clock_time_keeps_firing_on_its_grid() {
    let mut harness = Harness::new("2026-01-01T10:00:00Z");
    harness.config.tick_interval = 1_000;
    let task = harness.create("half-minute", "ok", "30s").await;
    let engine = harness.start().await;
    pass(secs(5 * 60 + 10)).await;
    let before = harness.bus.calls().len();
    assert_eq!(before, 10);
    // 10:05:10 becomes 09:05:10, before the task was created.
    harness.clock.jump_signed(SignedDuration::from_hours(-1));
    pass(secs(61)).await;
    let fired: Vec<String> =
        harness.bus.calls().iter().skip(before).map(|call| call.scheduled_for.to_string()).collect();
    assert_eq!(fired, ["2026-01-01T09:05:30Z", "2026-01-01T09:06:00Z"], "every 30 s on the same grid");
    let task = harness.reload(&task).await;
    assert!(task.schedule.anchor() < at("2026-01-01T09:05:10Z"), "re-anchored before the new now");
    assert_eq!(task.next_run_at, Some(at("2026-01-01T09:06:30Z")));
    engine.stop().await;
    assert_eq!(duplicated_occurrences(&harness).await, 0);
}

#[tokio::test(start_paused = true)]
async fn an_execution_claimed_ahead_when_the_clock_is_set_back_starts_within_a_tick_not_an_hour_later() {
    let mut harness = Harness::new("2026-01-01T10:00:00Z");
    harness.config.tick_interval = 1_000;
    harness.create("minute", "ok", "* * * * *").await;
    let engine = harness.start().await;
    // 10:01 is claimed ahead at 10:00:59.5 and waits in the dispatcher for its instant.
    pass(std::time::Duration::from_millis(59_700)).await;
    assert!(harness.bus.calls().is_empty());
    harness.clock.jump_signed(SignedDuration::from_hours(-1));
    pass(secs(62)).await;
    let calls = harness.bus.calls();
    let fired: Vec<(String, String)> =
        calls.iter().map(|call| (call.scheduled_for.to_string(), call.at.to_string())).collect();
    // It starts when the jump is seen, within a tick of its planned wait of 0.3 s, not an
    // hour later; the next minute is on time.
    assert_eq!(fired[0].0, "2026-01-01T10:01:00Z", "{fired:?}");
    let started = calls[0].at;
    assert!(started >= at("2026-01-01T09:01:00Z") && started <= at("2026-01-01T09:01:01Z"), "{fired:?}");
    assert_eq!(
        fired.last(),
        Some(&("2026-01-01T09:02:00Z".to_owned(), "2026-01-01T09:02:00Z".to_owned())),
        "{fired:?}"
    );
    engine.stop().await;
    assert_eq!(duplicated_occurrences(&harness).await, 0);
}
