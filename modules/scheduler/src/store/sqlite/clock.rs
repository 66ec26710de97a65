//! The store's side of a backward wall-clock jump: one transaction that opens a clock epoch,
//! brings the next run of active cron and interval tasks back to the new wall clock, and
//! moves queued executions due later back by the jump.
//!
//! The rules (the timeline is in `engine::clock_jump`):
//! - a task's next run becomes the first occurrence after the new now, if that is earlier than
//!   the one stored; it is never moved later;
//! - a task whose period is longer than the jump (a daily task after a one-hour jump) re-lives
//!   at most one occurrence: an instant it already fired is skipped, so it does not run twice;
//! - a task that fires at least once per jump length (a minute task after a one-hour jump)
//!   fires the re-lived instants again, in the new epoch: being silent for the length of the
//!   jump is the failure being fixed;
//! - once tasks keep their instant (it names a wall-clock time), manual tasks have none;
//! - an interval task whose start (anchor) is after the new now is re-anchored whole
//!   intervals earlier: the same grid of instants, extended back so it has instants to fire
//!   at the new wall clock (an interval never fires before its anchor);
//! - a queued execution (retry, backlog) due after the new now is due `back` earlier, so a
//!   retry delay stays a delay of elapsed time.
//!
//! Nothing here touches running executions: they end on their own.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use scheduler_schedule::ScheduleKind;

use super::rows::{self, TASK_COLUMNS, duration_ms, ms};
use crate::store::{ClockJump, ClockRebased, StoreError};
use crate::task::{Task, TaskSchedule};

/// Most already-fired instants skipped for one task (a bound on the walk, not a rule: a task
/// whose period is longer than the jump has at most one).
const MAX_SKIPPED: usize = 64;

/// Tasks read per page.
const PAGE: usize = 1_000;

/// Whether the task fired occurrence `at` in any epoch.
fn fired(conn: &Connection, task: &Task, at: Timestamp) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM task_executions WHERE task_id = ?1 \
             AND scheduled_for = ?2 AND origin = 'schedule')",
        )?
        .query_row(params![task.id.as_str(), ms(at)], |row| row.get(0))?)
}

/// For an interval task whose anchor is not before the new now (the clock went back past the
/// task's creation), the same grid of instants anchored whole intervals earlier, so it has
/// instants after the new now: an interval's first instant is `anchor + every`, and nothing
/// before it would ever fire.
fn reanchored(task: &Task, now: Timestamp) -> Result<Option<TaskSchedule>, StoreError> {
    let anchor = task.schedule.anchor();
    if task.schedule.kind() != ScheduleKind::Interval || anchor < now {
        return Ok(None);
    }
    let Some(first) = task.schedule.schedule().next_after(anchor) else {
        return Ok(None);
    };
    let every = first.duration_since(anchor).as_nanos();
    if every <= 0 {
        return Ok(None);
    }
    let intervals = anchor.duration_since(now).as_nanos() / every + 1;
    let shift = i64::try_from(intervals.saturating_mul(every)).unwrap_or(i64::MAX);
    let Ok(earlier) = anchor.checked_sub(SignedDuration::from_nanos(shift)) else {
        return Ok(None);
    };
    let schedule =
        TaskSchedule::restore(ScheduleKind::Interval, task.schedule.expression(), task.schedule.timezone(), earlier)
            .map_err(|error| StoreError::Corrupt(format!("schedule '{}': {error}", task.schedule.expression())))?;
    Ok(Some(schedule))
}

/// The task's next run after the jump, when earlier than the stored one.
fn next_after_jump(conn: &Connection, task: &Task, jump: &ClockJump) -> Result<Option<Timestamp>, StoreError> {
    let Some(stored) = task.next_run_at else {
        return Ok(None);
    };
    let Some(mut at) = task.schedule.next_after(jump.now) else {
        return Ok(None);
    };
    let back = SignedDuration::try_from(jump.back).unwrap_or(SignedDuration::MAX);
    let period = task.schedule.next_after(at).map(|after| after.duration_since(at));
    if period.is_none_or(|period| period > back) {
        for _ in 0..MAX_SKIPPED {
            if at >= stored || !fired(conn, task, at)? {
                break;
            }
            match task.schedule.next_after(at) {
                Some(next) => at = next,
                None => return Ok(None),
            }
        }
    }
    Ok((at < stored).then_some(at))
}

/// Opens a clock epoch and rebases next runs and queued executions on the new wall clock.
pub(super) fn rebase(conn: &Connection, jump: &ClockJump) -> Result<ClockRebased, StoreError> {
    let now_ms = ms(jump.now);
    let back_ms = duration_ms(jump.back).max(1);
    conn.prepare_cached("INSERT INTO clock_epochs (detected_at, jump_ms, node_id) VALUES (?1, ?2, ?3)")?
        .execute(params![now_ms, back_ms, jump.node_id])?;
    let epoch = conn.last_insert_rowid();
    // Paged by id, so a million tasks do not all sit in memory at once.
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM scheduled_tasks WHERE status = 'active' AND next_run_at IS NOT NULL \
         AND next_run_at > ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    );
    let mut moved = 0;
    let mut after = String::new();
    loop {
        let mut page = Vec::with_capacity(PAGE);
        {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = stmt.query(params![now_ms, after, PAGE as i64])?;
            while let Some(row) = found.next()? {
                page.push(rows::task(row)?);
            }
        }
        let Some(last) = page.last() else {
            break;
        };
        after = last.id.to_string();
        for task in &mut page {
            if !matches!(task.schedule.kind(), ScheduleKind::Cron | ScheduleKind::Interval) {
                continue;
            }
            if let Some(schedule) = reanchored(task, jump.now)? {
                conn.prepare_cached("UPDATE scheduled_tasks SET anchor_at = ?2 WHERE id = ?1")?
                    .execute(params![task.id.as_str(), ms(schedule.anchor())])?;
                task.schedule = schedule;
            }
            if let Some(next) = next_after_jump(conn, task, jump)? {
                conn.prepare_cached("UPDATE scheduled_tasks SET next_run_at = ?2 WHERE id = ?1")?
                    .execute(params![task.id.as_str(), ms(next)])?;
                moved += 1;
            }
        }
    }
    // Two statements, so that unclaimed rows are found through `ix_exec_queued` (which holds
    // only those) and claims made ahead through `ix_exec_active`.
    let mut queued = 0;
    for sql in [
        "UPDATE task_executions SET run_at = MAX(?1, run_at - ?2) \
         WHERE status = 'queued' AND node_id IS NULL AND run_at > ?1",
        "UPDATE task_executions SET run_at = MAX(?1, run_at - ?2) \
         WHERE status = 'queued' AND node_id IS NOT NULL AND run_at > ?1",
    ] {
        queued += conn.prepare_cached(sql)?.execute(params![now_ms, back_ms])?;
    }
    Ok(ClockRebased { epoch, tasks: moved, queued: queued as u64 })
}
