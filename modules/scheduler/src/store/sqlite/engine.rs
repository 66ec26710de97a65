//! The engine's transactions on SQLite: claim due work, request a manual run, record an
//! outcome (with its durable retry), recover a dead engine's runs, and clean up history.
//!
//! This file holds SQL only: every scheduling decision (overlap, misfire, retry and
//! backoff, manual runs, once completion) is asked of `crate::policy`, so another backend
//! makes the same decisions by asking the same functions.
//!
//! Each function runs inside one transaction opened by the writer thread (`BEGIN
//! IMMEDIATE`), so the claim of an occurrence, its execution row and the task's advanced
//! `next_run_at` commit together or not at all. Execution inserts are `INSERT OR IGNORE`
//! against the unique occurrence index: an occurrence that another engine already wrote is
//! left alone. A row belongs to the current clock epoch (`clock.rs`); a retry to its
//! attempt's epoch.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, params};
use scheduler_schedule::ScheduleKind;

use super::rows::{self, TASK_COLUMNS, duration_ms, ms};
use super::within_savepoint;
use crate::policy::overlap::{self, Admission};
use crate::policy::retry::{self, Backoff};
use crate::policy::{manual, misfire, once};
use crate::store::{
    ClaimOutcome, ClaimRequest, ClaimedExecution, CleanupBatch, Finish, FinishOutcome, Finished, NotedExecution,
    RecoverRequest, RetryScheduled, RunRequested, StoreError,
};
use crate::task::{Execution, ExecutionId, ExecutionStatus, Occurrence, Origin, Task, TaskId, Trigger};

/// The due-task query; served by the partial index `ix_tasks_due`.
pub(crate) const DUE_TASKS_SQL: &str = "FROM scheduled_tasks WHERE status = 'active' \
    AND next_run_at IS NOT NULL AND next_run_at <= ?1 ORDER BY next_run_at LIMIT ?2";

/// Unclaimed queued rows due by `?1`, oldest first (after `SELECT <columns>`); served by
/// the partial index `ix_exec_queued`, which holds only unclaimed queued rows.
pub(crate) const QUEUED_DUE_SQL: &str = "FROM task_executions \
    WHERE status = 'queued' AND node_id IS NULL AND run_at <= ?1 ORDER BY run_at, id LIMIT ?2";

/// When the next unclaimed queued row comes due after `?1`; served by `ix_exec_queued`.
pub(crate) const NEXT_QUEUED_SQL: &str =
    "SELECT MIN(run_at) FROM task_executions WHERE status = 'queued' AND node_id IS NULL AND run_at > ?1";

/// Tasks read per due-task query inside one claim.
const DUE_PAGE: usize = 256;

struct NewExecution<'a> {
    task: &'a Task,
    origin: Origin,
    trigger: Trigger,
    scheduled_for: i64,
    attempt: u32,
    status: ExecutionStatus,
    run_at: Option<i64>,
    now: i64,
    /// For running rows: when the dispatch starts (later than `now` when claimed ahead).
    start_at: i64,
    node_id: Option<&'a str>,
    error: Option<String>,
    retry_of: Option<ExecutionId>,
}

/// Inserts an execution row; `None` when the unique occurrence index already has it.
///
/// A `running` row claimed ahead (`start_at` after `now`) is written as a claim: `queued`
/// under this node with its planned start, until the engine dispatches it.
fn insert_execution(conn: &Connection, row: &NewExecution<'_>) -> Result<Option<ExecutionId>, StoreError> {
    let running = row.status == ExecutionStatus::Running;
    let ahead = running && row.start_at > row.now;
    let status = if ahead { ExecutionStatus::Queued } else { row.status };
    let run_at = if ahead { Some(row.start_at) } else { row.run_at };
    let finished = row.status.is_final();
    let deadline = running.then(|| row.start_at.saturating_add(duration_ms(row.task.timeout)));
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO task_executions (task_id, task_name, origin, trigger, \
         scheduled_for, attempt, status, run_at, created_at, started_at, finished_at, \
         deadline_at, node_id, error, retry_of, clock_epoch) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
         COALESCE((SELECT clock_epoch FROM task_executions WHERE id = ?15), \
         (SELECT COALESCE(MAX(epoch), 0) FROM clock_epochs)))",
    )?;
    let inserted = stmt.execute(params![
        row.task.id.as_str(),
        row.task.name,
        row.origin.as_str(),
        row.trigger.as_str(),
        row.scheduled_for,
        i64::from(row.attempt),
        status.as_str(),
        run_at,
        row.now,
        running.then_some(row.start_at),
        finished.then_some(row.now),
        deadline,
        if running { row.node_id } else { None },
        row.error,
        row.retry_of.map(|id| id.0),
    ])?;
    Ok((inserted == 1).then(|| ExecutionId(conn.last_insert_rowid())))
}

/// The identity of row `id` of `task`, made once and shared by its claim, call and events.
fn occurrence(
    task: &Task,
    id: ExecutionId,
    scheduled_for: i64,
    attempt: u32,
    trigger: Trigger,
) -> Result<Arc<Occurrence>, StoreError> {
    Ok(Arc::new(Occurrence {
        task_id: task.id.clone(),
        name: task.name.clone(),
        tenant: task.tenant.clone(),
        execution_id: id,
        scheduled_for: rows::instant("scheduled_for", scheduled_for)?,
        attempt,
        trigger,
    }))
}

fn claimed(task: &Task, id: ExecutionId, row: &NewExecution<'_>) -> Result<ClaimedExecution, StoreError> {
    Ok(ClaimedExecution {
        occurrence: occurrence(task, id, row.scheduled_for, row.attempt, row.trigger)?,
        command: task.command.clone(),
        data: rows::payload(&task.data)?,
        timeout: task.timeout,
        origin: row.origin,
        started_at: rows::instant("start_at", row.start_at)?,
        ahead: row.start_at > row.now,
    })
}

fn noted(task: &Task, id: ExecutionId, row: NewExecution<'_>) -> Result<NotedExecution, StoreError> {
    Ok(NotedExecution {
        occurrence: occurrence(task, id, row.scheduled_for, row.attempt, row.trigger)?,
        status: row.status,
        error: row.error,
    })
}

/// Writes a non-running row (skipped or queued) and notes it for events.
fn note(conn: &Connection, row: NewExecution<'_>, out: &mut ClaimOutcome) -> Result<(), StoreError> {
    if let Some(id) = insert_execution(conn, &row)? {
        let task = row.task;
        out.noted.push(noted(task, id, row)?);
    }
    Ok(())
}

/// What runs of one task are in the way of a new one, asked of the database at most once
/// while the claim handles the task (nothing it writes meanwhile is running).
struct Busy<'a> {
    conn: &'a Connection,
    task: &'a TaskId,
    settled: &'a [ExecutionId],
    known: std::cell::Cell<Option<Option<Trigger>>>,
}

impl<'a> Busy<'a> {
    fn new(conn: &'a Connection, task: &'a TaskId, settled: &'a [ExecutionId]) -> Busy<'a> {
        Busy { conn, task, settled, known: std::cell::Cell::new(None) }
    }

    /// The trigger of a run of the task that is in the way, if any (`rows::running_trigger`).
    fn running(&self) -> Result<Option<Trigger>, StoreError> {
        if let Some(known) = self.known.get() {
            return Ok(known);
        }
        let found = rows::running_trigger(self.conn, self.task, self.settled)?;
        self.known.set(Some(found));
        Ok(found)
    }
}

/// Starts occurrence `at` of `task` as its overlap policy decides (`policy::overlap`).
/// Returns true when an execution was started.
fn start_occurrence(
    conn: &Connection,
    task: &Task,
    at: i64,
    trigger: Trigger,
    (request, busy): (&ClaimRequest, &Busy<'_>),
    out: &mut ClaimOutcome,
) -> Result<bool, StoreError> {
    let now = ms(request.now);
    let mut row = NewExecution {
        task,
        origin: Origin::Schedule,
        trigger,
        scheduled_for: at,
        attempt: 1,
        status: ExecutionStatus::Running,
        run_at: None,
        now,
        start_at: now.max(at),
        node_id: Some(&request.node_id),
        error: None,
        retry_of: None,
    };
    let once = task.schedule.kind() == ScheduleKind::Once;
    let admission = overlap::admit(
        task.overlap,
        once,
        || busy.running(),
        || rows::has_execution_in(conn, &task.id, ExecutionStatus::Queued),
    )?;
    match admission {
        Admission::Start => {
            if let Some(id) = insert_execution(conn, &row)? {
                out.claimed.push(claimed(task, id, &row)?);
                return Ok(true);
            }
            return Ok(false);
        }
        Admission::Skip(reason) => {
            row.status = ExecutionStatus::Skipped;
            row.error = Some(reason.message().to_owned());
        }
        Admission::Queue => {
            row.status = ExecutionStatus::Queued;
            row.run_at = Some(at);
        }
    }
    note(conn, row, out)?;
    Ok(false)
}

/// Handles one due task: its occurrence (or, when missed, its misfire plan), then advances
/// `next_run_at` from the occurrence, never from now. The decisions are `policy`'s.
///
/// An occurrence still in the future (claimed ahead, within the horizon) is only taken when
/// the task is idle: overlap is then decided at its due time by an ordinary claim. Returns
/// false when the task was left for later.
fn fire(conn: &Connection, task: &Task, request: &ClaimRequest, out: &mut ClaimOutcome) -> Result<bool, StoreError> {
    let Some(due_at) = task.next_run_at else {
        return Ok(false);
    };
    let now = request.now;
    let now_ms = ms(now);
    let busy = Busy::new(conn, &task.id, &request.settled);
    if ms(due_at) > now_ms && !overlap::may_claim_ahead(task.overlap, || busy.running())? {
        return Ok(false);
    }
    let once = task.schedule.kind() == ScheduleKind::Once;
    let mut started = false;
    let mut run_start = now_ms;
    let mut complete = false;
    let next = if misfire::is_missed(due_at, now, request.misfire_grace) {
        let plan = misfire::plan(task.misfire, once, &task.schedule, due_at, now, request.run_all_limit);
        let row = |at: Timestamp, status, error| NewExecution {
            task,
            origin: Origin::Schedule,
            trigger: Trigger::CatchUp,
            scheduled_for: ms(at),
            attempt: 1,
            status,
            run_at: (status == ExecutionStatus::Queued).then_some(now_ms),
            now: now_ms,
            start_at: now_ms,
            node_id: None,
            error,
            retry_of: None,
        };
        if let Some((at, error)) = plan.skipped {
            note(conn, row(at, ExecutionStatus::Skipped, Some(error)), out)?;
        }
        if let Some(first) = plan.start {
            started = start_occurrence(conn, task, ms(first), Trigger::CatchUp, (request, &busy), out)?;
        }
        for at in plan.queue {
            note(conn, row(at, ExecutionStatus::Queued, None), out)?;
            out.more_due = true;
        }
        complete = plan.completes;
        plan.next
    } else {
        let late = overlap::coalesce_late(task.overlap, once, &task.schedule, due_at, now);
        if let Some(error) = late.skipped {
            let row = NewExecution {
                task,
                origin: Origin::Schedule,
                trigger: Trigger::Schedule,
                scheduled_for: ms(due_at),
                attempt: 1,
                status: ExecutionStatus::Skipped,
                run_at: None,
                now: now_ms,
                start_at: now_ms,
                node_id: None,
                error: Some(error),
                retry_of: None,
            };
            note(conn, row, out)?;
        }
        started = start_occurrence(conn, task, ms(late.run), Trigger::Schedule, (request, &busy), out)?;
        // Claimed ahead, the run starts at its instant, as its execution row says.
        run_start = now_ms.max(ms(late.run));
        late.next
    };
    conn.prepare_cached(
        "UPDATE scheduled_tasks SET next_run_at = ?2, \
         last_run_at = CASE WHEN ?3 THEN ?4 ELSE last_run_at END, \
         status = CASE WHEN ?5 THEN 'completed' ELSE status END, \
         last_status = CASE WHEN ?5 THEN 'skipped' ELSE last_status END WHERE id = ?1",
    )?
    .execute(params![task.id.as_str(), next.map(ms), started, run_start, complete])?;
    Ok(true)
}

/// Claims due work: queued rows first (retries, queued overlaps, manual runs, catch-up
/// backlog), then due tasks in `next_run_at` order, up to `request.limit` started
/// executions and `request.batch` examined tasks.
pub(super) fn claim_due(conn: &Connection, request: &ClaimRequest) -> Result<ClaimOutcome, StoreError> {
    let now_ms = ms(request.now);
    let mut out = ClaimOutcome::default();
    let limit_i64 = i64::try_from(request.batch).unwrap_or(i64::MAX);

    let queued: Vec<(i64, String, i64, i64, String, String)> = conn
        .prepare_cached(&format!("SELECT id, task_id, scheduled_for, attempt, trigger, origin {QUEUED_DUE_SQL}"))?
        .query_map(params![now_ms, limit_i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut tasks: HashMap<String, Option<Task>> = HashMap::new();
    for (id, task_id, scheduled_for, attempt, trigger, origin) in queued {
        if out.claimed.len() >= request.limit {
            break;
        }
        if !tasks.contains_key(&task_id) {
            let task = rows::task_by_id(conn, &TaskId(task_id.clone()))?;
            tasks.insert(task_id.clone(), task);
        }
        let Some(Some(task)) = tasks.get(&task_id) else {
            cancel_queued_with(conn, ExecutionId(id), now_ms, "the task was deleted")?;
            continue;
        };
        let parse = |column: &str, text: &str| StoreError::Corrupt(format!("{column}: unknown value '{text}'"));
        let origin = Origin::from_name(&origin).ok_or_else(|| parse("origin", &origin))?;
        if !manual::may_start(task.status, origin)
            || !overlap::may_start_queued(task.overlap, || rows::running_trigger(conn, &task.id, &request.settled))?
        {
            continue;
        }
        let deadline = now_ms.saturating_add(duration_ms(task.timeout));
        let changed = conn
            .prepare_cached(
                "UPDATE task_executions SET status = 'running', started_at = ?2, node_id = ?3, \
                 deadline_at = ?4 WHERE id = ?1 AND status = 'queued'",
            )?
            .execute(params![id, now_ms, request.node_id, deadline])?;
        if changed == 0 {
            continue;
        }
        conn.prepare_cached("UPDATE scheduled_tasks SET last_run_at = ?2 WHERE id = ?1")?
            .execute(params![task.id.as_str(), now_ms])?;
        let trigger = Trigger::from_name(&trigger).ok_or_else(|| parse("trigger", &trigger))?;
        out.claimed.push(ClaimedExecution {
            occurrence: occurrence(task, ExecutionId(id), scheduled_for, u32::try_from(attempt).unwrap_or(1), trigger)?,
            command: task.command.clone(),
            data: rows::payload(&task.data)?,
            timeout: task.timeout,
            origin,
            started_at: request.now,
            ahead: false,
        });
    }

    let sql = format!("SELECT {TASK_COLUMNS} {DUE_TASKS_SQL}");
    let horizon_ms = duration_ms(request.horizon);
    let due_before = now_ms.saturating_add(horizon_ms);
    let mut examined = 0usize;
    // A page holds as many tasks as there are free slots (reading and decoding a task is
    // most of a claim's cost, and a saturated engine claims one or two at a time); it grows
    // to `DUE_PAGE` only when a page held nothing but busy tasks claimed ahead.
    let mut full_pages = false;
    'claim: loop {
        if out.claimed.len() >= request.limit {
            break;
        }
        if examined >= request.batch {
            out.more_due = true;
            break;
        }
        let wanted = if full_pages { DUE_PAGE } else { request.limit - out.claimed.len() };
        let page = (request.batch - examined).min(DUE_PAGE).min(wanted);
        let due: Vec<Task> = {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = stmt.query(params![due_before, i64::try_from(page).unwrap_or(1)])?;
            let mut due = Vec::with_capacity(page);
            while let Some(row) = found.next()? {
                due.push(rows::task(row)?);
            }
            due
        };
        if due.is_empty() {
            break;
        }
        let mut acted = false;
        for task in &due {
            if out.claimed.len() >= request.limit {
                break 'claim;
            }
            examined += 1;
            let fired = fire(conn, task, request, &mut out)?;
            if !fired {
                out.deferred += 1;
            }
            acted |= fired;
        }
        if !acted {
            if due.len() == page && !full_pages && page < DUE_PAGE {
                // Busy tasks claimed ahead fill this small page: look past them.
                full_pages = true;
                continue;
            }
            // Only busy tasks claimed ahead are left in this page: nothing more to do now.
            break;
        }
    }

    let next_task = rows::optional_i64(
        conn,
        "SELECT MIN(next_run_at) FROM scheduled_tasks WHERE status = 'active' \
         AND next_run_at IS NOT NULL AND next_run_at > ?1",
        [now_ms],
    )?;
    let next_queued = rows::optional_i64(conn, NEXT_QUEUED_SQL, [now_ms])?;
    // A task due beyond the horizon can be claimed `horizon` early; one inside the horizon
    // was left for its due time (busy), so wake at that time.
    let (ahead, inside) = match next_task {
        Some(at) if at > due_before => (Some(at - horizon_ms), None),
        other => (None, other),
    };
    out.next_due = match (inside, next_queued) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .map(|at| rows::instant("next_due", at))
    .transpose()?;
    out.next_ahead = ahead.map(|at| rows::instant("next_ahead", at)).transpose()?;
    Ok(out)
}

/// Queues a manual run (or records it skipped), following the task's overlap policy.
pub(super) fn request_run(conn: &Connection, id: &TaskId, now: Timestamp) -> Result<RunRequested, StoreError> {
    let task = rows::task_by_id(conn, id)?.ok_or_else(|| StoreError::TaskNotFound(id.to_string()))?;
    let now_ms = ms(now);
    let running = rows::has_execution_in(conn, &task.id, ExecutionStatus::Running)?;
    let queued = rows::has_execution_in(conn, &task.id, ExecutionStatus::Queued)?;
    let (status, error) = match manual::request(task.overlap, running, queued) {
        Admission::Skip(reason) => (ExecutionStatus::Skipped, Some(reason.message().to_owned())),
        Admission::Start | Admission::Queue => (ExecutionStatus::Queued, None),
    };
    let row = NewExecution {
        task: &task,
        origin: Origin::Manual,
        trigger: Trigger::Manual,
        scheduled_for: now_ms,
        attempt: 1,
        status,
        run_at: (status == ExecutionStatus::Queued).then_some(now_ms),
        now: now_ms,
        start_at: now_ms,
        node_id: None,
        error,
        retry_of: None,
    };
    let id = insert_execution(conn, &row)?
        .ok_or_else(|| StoreError::Database("the manual run row was not written".to_owned()))?;
    let written = rows::execution_by_id(conn, id)?
        .ok_or_else(|| StoreError::Database("the manual run row was not written".to_owned()))?;
    Ok(RunRequested { row: written, execution: noted(&task, id, row)? })
}

/// Settings for recording an outcome.
struct Outcome {
    retryable: bool,
    retry_not_before: Option<std::time::Duration>,
    now: Timestamp,
    retry_delay_max: std::time::Duration,
    retry_jitter: bool,
}

/// Updates the task after an attempt ended: counters, last status, a durable retry row,
/// a once task's completion.
fn record_outcome(conn: &Connection, execution: Execution, outcome: &Outcome) -> Result<Finished, StoreError> {
    let status = execution.status;
    let failure = status.is_failure();
    let Some(task) = rows::count_outcome(conn, &execution.task_id, status, execution.error.as_deref())? else {
        return Ok(Finished {
            execution,
            tenant: String::new(),
            retry: None,
            task_completed: false,
            queued_waiting: false,
        });
    };
    let mut retry = None;
    if let Some(attempt) = retry::next_attempt(failure, outcome.retryable, execution.attempt, task.retries) {
        let backoff = Backoff {
            base: task.retry_delay,
            kind: task.retry_backoff,
            cap: outcome.retry_delay_max,
            jitter: outcome.retry_jitter,
        };
        let delay =
            retry::delay(&backoff, execution.attempt, retry::random).max(outcome.retry_not_before.unwrap_or_default());
        let run_at = ms(outcome.now).saturating_add(duration_ms(delay));
        let row = NewRetry {
            task: &task,
            origin: execution.origin,
            scheduled_for: ms(execution.scheduled_for),
            attempt,
            run_at,
            now: ms(outcome.now),
            retry_of: execution.id,
        };
        if let Some(id) = insert_retry(conn, &row)? {
            retry = Some(RetryScheduled {
                execution_id: id,
                attempt: row.attempt,
                run_at: rows::instant("run_at", run_at)?,
            });
        }
    }
    let task_completed = once::completes(task.once, execution.origin, retry.is_some(), task.status);
    if task_completed {
        conn.prepare_cached("UPDATE scheduled_tasks SET status = 'completed', next_run_at = NULL WHERE id = ?1")?
            .execute([task.id.as_str()])?;
    }
    let queued_waiting = rows::has_execution_in(conn, &task.id, ExecutionStatus::Queued)?;
    Ok(Finished { execution, tenant: task.tenant, retry, task_completed, queued_waiting })
}

struct NewRetry<'a> {
    task: &'a rows::OutcomeTask,
    origin: Origin,
    scheduled_for: i64,
    attempt: u32,
    run_at: i64,
    now: i64,
    retry_of: ExecutionId,
}

fn insert_retry(conn: &Connection, row: &NewRetry<'_>) -> Result<Option<ExecutionId>, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO task_executions (task_id, task_name, origin, trigger, \
             scheduled_for, attempt, status, run_at, created_at, retry_of, clock_epoch) \
             VALUES (?1, ?2, ?3, 'retry', ?4, ?5, 'queued', ?6, ?7, ?8, \
             COALESCE((SELECT clock_epoch FROM task_executions WHERE id = ?8), 0))",
        )?
        .execute(params![
            row.task.id.as_str(),
            row.task.name,
            row.origin.as_str(),
            row.scheduled_for,
            i64::from(row.attempt),
            row.run_at,
            row.now,
            row.retry_of.0,
        ])?;
    Ok((inserted == 1).then(|| ExecutionId(conn.last_insert_rowid())))
}

/// Records how running attempts ended: all in one savepoint, so a batch costs one
/// savepoint however many outcomes it holds (each page it changes is journalled once, not
/// once per outcome). When one of them fails, that savepoint is rolled back and each is
/// recorded again in its own, so one bad outcome refuses only itself. A storage failure
/// (full disk, I/O) has already rolled the whole transaction back: it fails the batch.
pub(super) fn finish_all(
    conn: &Connection,
    finishes: &[Finish],
) -> Result<Vec<Result<FinishOutcome, StoreError>>, StoreError> {
    let together =
        within_savepoint(conn, |conn| finishes.iter().map(|one| finish(conn, one)).collect::<Result<Vec<_>, _>>());
    match together {
        Ok(outcomes) => return Ok(outcomes.into_iter().map(Ok).collect()),
        Err(error) if error.is_storage_failure() || conn.is_autocommit() => return Err(error),
        Err(_) => {}
    }
    let mut outcomes = Vec::with_capacity(finishes.len());
    for one in finishes {
        match within_savepoint(conn, |conn| finish(conn, one)) {
            Err(error) if error.is_storage_failure() || conn.is_autocommit() => return Err(error),
            outcome => outcomes.push(outcome),
        }
    }
    Ok(outcomes)
}

/// Records how a running attempt ended.
pub(super) fn finish(conn: &Connection, finish: &Finish) -> Result<FinishOutcome, StoreError> {
    // Then read back, not `RETURNING`: see `rows::count_outcome`.
    let ended = conn
        .prepare_cached(
            "UPDATE task_executions SET status = ?2, finished_at = ?3, duration_ms = ?4, \
             output = ?5, error = ?6 WHERE id = ?1 \
             AND (status = 'running' OR (status = 'queued' AND node_id IS NOT NULL))",
        )?
        .execute(params![
            finish.execution_id.0,
            finish.status.as_str(),
            ms(finish.finished_at),
            duration_ms(finish.duration),
            finish.output.as_ref().map(|output| output.to_string()),
            finish.error,
        ])?;
    let execution = if ended == 1 { rows::execution_by_id(conn, finish.execution_id)? } else { None };
    let Some(execution) = execution else {
        return Ok(FinishOutcome::NotRunning);
    };
    let outcome = Outcome {
        retryable: finish.retryable,
        retry_not_before: finish.retry_not_before,
        now: finish.finished_at,
        retry_delay_max: finish.retry_delay_max,
        retry_jitter: finish.retry_jitter,
    };
    Ok(FinishOutcome::Finished(Box::new(record_outcome(conn, execution, &outcome)?)))
}

/// Settles a claim made ahead (see [`crate::store::Store::mark_claim`]).
pub(super) fn mark_claim(conn: &Connection, id: ExecutionId, dispatched: bool) -> Result<bool, StoreError> {
    let sql = if dispatched {
        "UPDATE task_executions SET status = 'running' \
         WHERE id = ?1 AND status = 'queued' AND node_id IS NOT NULL"
    } else {
        "UPDATE task_executions SET node_id = NULL, started_at = NULL, deadline_at = NULL, \
         run_at = scheduled_for WHERE id = ?1 AND status = 'queued' AND node_id IS NOT NULL"
    };
    Ok(conn.prepare_cached(sql)?.execute([id.0])? > 0)
}

/// Claims are left to their engine: it dispatches them (a claimed-ahead occurrence still
/// runs, see the engine docs), and a user cancels them through it.
fn cancel_queued_with(conn: &Connection, id: ExecutionId, now_ms: i64, why: &str) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE task_executions SET status = 'cancelled', finished_at = ?2, error = ?3 \
             WHERE id = ?1 AND status = 'queued' AND node_id IS NULL",
        )?
        .execute(params![id.0, now_ms, why])?;
    Ok(changed > 0)
}

pub(super) fn cancel_queued(conn: &Connection, id: ExecutionId, now: Timestamp) -> Result<bool, StoreError> {
    cancel_queued_with(conn, id, ms(now), "cancelled on request")
}

/// Marks runs of a dead engine `interrupted`: those under our own node id (a previous life of
/// this engine) and those of any node long past their deadline. Their retries follow the
/// task's retry policy.
pub(super) fn recover(conn: &Connection, request: &RecoverRequest) -> Result<Vec<Finished>, StoreError> {
    let now_ms = ms(request.now);
    let stale_before = now_ms.saturating_sub(duration_ms(request.stale_after));
    // Claims never dispatched go back to the queue, as the attempt they were.
    conn.prepare_cached(
        "UPDATE task_executions SET node_id = NULL, started_at = NULL, deadline_at = NULL, \
         run_at = scheduled_for WHERE status = 'queued' AND node_id IS NOT NULL \
         AND (node_id = ?1 OR deadline_at < ?2)",
    )?
    .execute(params![request.node_id, stale_before])?;
    let ids: Vec<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, node_id FROM task_executions WHERE status = 'running' \
             AND (node_id = ?1 OR deadline_at < ?2)",
        )?
        .query_map(params![request.node_id, stale_before], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    // Then read back, not `RETURNING`: see `rows::count_outcome`.
    let interrupt = "UPDATE task_executions SET status = 'interrupted', finished_at = ?2, \
         duration_ms = MAX(0, ?2 - COALESCE(started_at, ?2)), error = ?3 \
         WHERE id = ?1 AND status = 'running'";
    let outcome = Outcome {
        retryable: true,
        retry_not_before: None,
        now: request.now,
        retry_delay_max: request.retry_delay_max,
        retry_jitter: request.retry_jitter,
    };
    let mut recovered = Vec::with_capacity(ids.len());
    for (id, node) in ids {
        let error =
            format!("interrupted: the engine '{}' that ran it stopped before it ended", node.unwrap_or_default());
        if conn.prepare_cached(interrupt)?.execute(params![id, now_ms, error])? == 0 {
            continue;
        }
        if let Some(execution) = rows::execution_by_id(conn, ExecutionId(id))? {
            recovered.push(record_outcome(conn, execution, &outcome)?);
        }
    }
    Ok(recovered)
}

/// Deletes one bounded batch of old finished executions and old log lines.
pub(super) fn cleanup(conn: &Connection, before: Timestamp, batch: usize) -> Result<CleanupBatch, StoreError> {
    let batch = i64::try_from(batch).unwrap_or(i64::MAX);
    let executions = conn
        .prepare_cached(
            "DELETE FROM task_executions WHERE id IN (SELECT id FROM task_executions \
             WHERE finished_at IS NOT NULL AND finished_at < ?1 \
             AND status NOT IN ('queued', 'running') LIMIT ?2)",
        )?
        .execute(params![ms(before), batch])?;
    let logs = conn
        .prepare_cached("DELETE FROM task_logs WHERE id IN (SELECT id FROM task_logs WHERE logged_at < ?1 LIMIT ?2)")?
        .execute(params![ms(before), batch])?;
    Ok(CleanupBatch { executions: executions as u64, logs: logs as u64 })
}
