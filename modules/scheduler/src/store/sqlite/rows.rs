//! Mapping between SQLite rows and domain types: column lists, instants as Unix
//! milliseconds, enums by their stable names.
//!
//! Every read of a stored enum or schedule goes through here, so a bad value becomes
//! [`StoreError::Corrupt`] naming the column, never a panic.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row};
use scheduler_schedule::ScheduleKind;

use crate::store::StoreError;
use crate::task::{
    BackoffKind, Execution, ExecutionId, ExecutionStatus, MisfirePolicy, Origin, OverlapPolicy, Task, TaskCounters,
    TaskId, TaskSchedule, TaskStatus, Trigger,
};

/// Columns of `scheduled_tasks` in the order [`task`] reads them.
pub(crate) const TASK_COLUMNS: &str = "id, tenant, name, command, data, schedule_kind, \
    schedule_expr, timezone, anchor_at, status, retries, retry_delay_ms, retry_backoff, \
    timeout_ms, overlap_policy, misfire_policy, created_at, updated_at, last_run_at, \
    last_status, last_error, next_run_at, run_count, success_count, failure_count, \
    consecutive_failures";

/// Columns of `task_executions` in the order [`execution`] reads them.
pub(crate) const EXECUTION_COLUMNS: &str = "id, task_id, task_name, origin, trigger, \
    scheduled_for, attempt, status, run_at, started_at, finished_at, duration_ms, output, \
    error, node_id, retry_of";

/// Unix milliseconds of an instant.
pub(crate) fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The instant of stored Unix milliseconds.
pub(crate) fn instant(column: &str, millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(millis).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

fn opt_instant(column: &str, millis: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    millis.map(|millis| instant(column, millis)).transpose()
}

fn named<T>(column: &str, text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{column}: unknown value '{text}'")))
}

fn millis_duration(column: &str, millis: i64) -> Result<Duration, StoreError> {
    u64::try_from(millis)
        .map(Duration::from_millis)
        .map_err(|_| StoreError::Corrupt(format!("{column}: negative duration {millis}")))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Parses stored JSON text.
pub(crate) fn json(column: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

/// A task's data as the JSON text a claim hands to the bus. A `Value` always serialises
/// (its keys are strings), so this fails only on a serde_json bug.
pub(crate) fn payload(data: &serde_json::Value) -> Result<std::sync::Arc<serde_json::value::RawValue>, StoreError> {
    serde_json::value::to_raw_value(data)
        .map(std::sync::Arc::from)
        .map_err(|error| StoreError::Corrupt(format!("data: cannot be written as JSON: {error}")))
}

/// Reads a task from a row selected with [`TASK_COLUMNS`].
pub(crate) fn task(row: &Row<'_>) -> Result<Task, StoreError> {
    let kind: String = row.get(5)?;
    let kind = named("schedule_kind", &kind, ScheduleKind::from_name)?;
    let expression: String = row.get(6)?;
    let timezone: String = row.get(7)?;
    let anchor = instant("anchor_at", row.get(8)?)?;
    let schedule = TaskSchedule::restore(kind, &expression, &timezone, anchor)
        .map_err(|error| StoreError::Corrupt(format!("schedule '{expression}': {error}")))?;
    let status: String = row.get(9)?;
    let backoff: String = row.get(12)?;
    let overlap: String = row.get(14)?;
    let misfire: String = row.get(15)?;
    let last_status: Option<String> = row.get(19)?;
    let data: String = row.get(4)?;
    Ok(Task {
        id: TaskId(row.get(0)?),
        tenant: row.get(1)?,
        name: row.get(2)?,
        command: row.get(3)?,
        data: json("data", &data)?,
        schedule,
        status: named("status", &status, TaskStatus::from_name)?,
        retries: u32::try_from(row.get::<_, i64>(10)?).unwrap_or(0),
        retry_delay: millis_duration("retry_delay_ms", row.get(11)?)?,
        retry_backoff: named("retry_backoff", &backoff, BackoffKind::from_name)?,
        timeout: millis_duration("timeout_ms", row.get(13)?)?,
        overlap: named("overlap_policy", &overlap, OverlapPolicy::from_name)?,
        misfire: named("misfire_policy", &misfire, MisfirePolicy::from_name)?,
        created_at: instant("created_at", row.get(16)?)?,
        updated_at: instant("updated_at", row.get(17)?)?,
        last_run_at: opt_instant("last_run_at", row.get(18)?)?,
        last_status: last_status.map(|text| named("last_status", &text, ExecutionStatus::from_name)).transpose()?,
        last_error: row.get(20)?,
        next_run_at: opt_instant("next_run_at", row.get(21)?)?,
        counters: TaskCounters {
            runs: count(row.get(22)?),
            successes: count(row.get(23)?),
            failures: count(row.get(24)?),
            consecutive_failures: count(row.get(25)?),
        },
    })
}

/// Reads an execution from a row selected with [`EXECUTION_COLUMNS`].
pub(crate) fn execution(row: &Row<'_>) -> Result<Execution, StoreError> {
    let origin: String = row.get(3)?;
    let trigger: String = row.get(4)?;
    let status: String = row.get(7)?;
    let output: Option<String> = row.get(12)?;
    Ok(Execution {
        id: ExecutionId(row.get(0)?),
        task_id: TaskId(row.get(1)?),
        task_name: row.get(2)?,
        origin: named("origin", &origin, Origin::from_name)?,
        trigger: named("trigger", &trigger, Trigger::from_name)?,
        scheduled_for: instant("scheduled_for", row.get(5)?)?,
        attempt: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(1),
        status: named("status", &status, ExecutionStatus::from_name)?,
        run_at: opt_instant("run_at", row.get(8)?)?,
        started_at: opt_instant("started_at", row.get(9)?)?,
        finished_at: opt_instant("finished_at", row.get(10)?)?,
        duration_ms: row.get(11)?,
        output: output.map(|text| json("output", &text)).transpose()?,
        error: row.get(13)?,
        node_id: row.get(14)?,
        retry_of: row.get::<_, Option<i64>>(15)?.map(ExecutionId),
    })
}

/// One task by id.
pub(crate) fn task_by_id(conn: &Connection, id: &TaskId) -> Result<Option<Task>, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM scheduled_tasks WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    rows.next()?.map(task).transpose()
}

/// One execution by id.
pub(crate) fn execution_by_id(conn: &Connection, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM task_executions WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.0])?;
    rows.next()?.map(execution).transpose()
}

/// Whether the task has an execution in `status` (`queued` or `running`).
///
/// The status is spelled into the SQL, not bound: a bound value compared against the partial
/// index's condition makes SQLite re-prepare the statement on every new binding.
pub(crate) fn has_execution_in(
    conn: &Connection,
    task_id: &TaskId,
    status: ExecutionStatus,
) -> Result<bool, StoreError> {
    let sql = match status {
        ExecutionStatus::Running => {
            "SELECT EXISTS (SELECT 1 FROM task_executions WHERE task_id = ?1 AND status = 'running')"
        }
        ExecutionStatus::Queued => {
            "SELECT EXISTS (SELECT 1 FROM task_executions WHERE task_id = ?1 AND status = 'queued')"
        }
        _ => return Ok(false),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.query_row([task_id.as_str()], |row| row.get(0))?)
}

/// The trigger of a running execution of the task (or of a claim made ahead, which runs
/// on its instant), if it has one, ignoring `settled`: executions whose outcome the engine
/// knows but has not managed to record yet (they do not keep the task busy: they have
/// ended).
pub(crate) fn running_trigger(
    conn: &Connection,
    task_id: &TaskId,
    settled: &[ExecutionId],
) -> Result<Option<Trigger>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, trigger FROM task_executions WHERE task_id = ?1 \
         AND (status = 'running' OR (status = 'queued' AND node_id IS NOT NULL))",
    )?;
    let mut found = stmt.query([task_id.as_str()])?;
    while let Some(row) = found.next()? {
        if settled.contains(&ExecutionId(row.get(0)?)) {
            continue;
        }
        let trigger: String = row.get(1)?;
        return Ok(Some(
            Trigger::from_name(&trigger)
                .ok_or_else(|| StoreError::Corrupt(format!("trigger: unknown value '{trigger}'")))?,
        ));
    }
    Ok(None)
}

/// A single optional integer.
pub(crate) fn optional_i64(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.query_row(params, |row| row.get::<_, Option<i64>>(0)).optional()?.flatten())
}

/// The few task fields recording an outcome needs (no schedule or JSON parsing).
pub(crate) struct OutcomeTask {
    pub(crate) id: TaskId,
    pub(crate) name: String,
    pub(crate) tenant: String,
    pub(crate) status: TaskStatus,
    pub(crate) once: bool,
    pub(crate) retries: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) retry_backoff: BackoffKind,
}

/// Counts an attempt that ended in `status` (with `error`) in its task's counters and last
/// status, and returns the task's [`OutcomeTask`] fields; `None` when the task is gone.
///
/// An UPDATE and a SELECT, not one `UPDATE … RETURNING`: SQLite runs a RETURNING statement
/// with a statement journal, and inside a savepoint that lives for a whole batch of
/// outcomes each statement's end walks that savepoint's in-memory journal from its start,
/// so a batch would cost the square of its size.
pub(crate) fn count_outcome(
    conn: &Connection,
    id: &TaskId,
    status: ExecutionStatus,
    error: Option<&str>,
) -> Result<Option<OutcomeTask>, StoreError> {
    let success = status == ExecutionStatus::Completed;
    let failure = status.is_failure();
    let counted = conn
        .prepare_cached(
            "UPDATE scheduled_tasks SET run_count = run_count + ?2, \
             success_count = success_count + ?3, failure_count = failure_count + ?4, \
             consecutive_failures = CASE WHEN ?3 = 1 THEN 0 ELSE consecutive_failures + ?4 END, \
             last_status = ?5, last_error = ?6 WHERE id = ?1",
        )?
        .execute(rusqlite::params![
            id.as_str(),
            i64::from(success || failure),
            i64::from(success),
            i64::from(failure),
            status.as_str(),
            error,
        ])?;
    if counted == 0 {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT name, tenant, status, schedule_kind, retries, retry_delay_ms, retry_backoff \
         FROM scheduled_tasks WHERE id = ?1",
    )?;
    let mut found = stmt.query([id.as_str()])?;
    let Some(row) = found.next()? else {
        return Ok(None);
    };
    let status: String = row.get(2)?;
    let kind: String = row.get(3)?;
    let backoff: String = row.get(6)?;
    Ok(Some(OutcomeTask {
        id: id.clone(),
        name: row.get(0)?,
        tenant: row.get(1)?,
        status: named("status", &status, TaskStatus::from_name)?,
        once: kind == ScheduleKind::Once.as_str(),
        retries: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        retry_delay: millis_duration("retry_delay_ms", row.get(5)?)?,
        retry_backoff: named("retry_backoff", &backoff, BackoffKind::from_name)?,
    }))
}
