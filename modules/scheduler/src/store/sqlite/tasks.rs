//! Task CRUD, history, statistics, logs and audit on a SQLite connection.
//!
//! Each function runs inside the transaction its caller (the writer or reader thread)
//! opened. Next-run rules live in [`TaskSchedule::first_fire`]: creation, resume and a
//! schedule change all compute the next run from "now".

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, params};

use super::rows::{self, EXECUTION_COLUMNS, TASK_COLUMNS, duration_ms, ms};
use crate::store::{HistoryQuery, StoreError, TaskFilter};
use crate::task::{
    AuditEntry, Execution, ExecutionId, ExecutionStatus, NewTask, Task, TaskCounters, TaskId, TaskKey, TaskPatch,
    TaskStats, TaskStatus,
};

/// How many recent finished attempts the duration statistics look at.
const STATS_WINDOW: i64 = 1_000;

fn name_taken(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if failure.code == ErrorCode::ConstraintViolation
                && message.contains("scheduled_tasks.tenant")
    )
}

pub(super) fn create(conn: &Connection, task: NewTask, now: Timestamp) -> Result<Task, StoreError> {
    let id = TaskId::generate();
    let status = if task.paused { TaskStatus::Paused } else { TaskStatus::Active };
    let next_run_at = match status {
        TaskStatus::Active => task.schedule.first_fire(now),
        _ => None,
    };
    let data = task.data.to_string();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO scheduled_tasks (id, tenant, name, command, data, schedule_kind, \
         schedule_expr, timezone, anchor_at, status, retries, retry_delay_ms, retry_backoff, \
         timeout_ms, overlap_policy, misfire_policy, created_at, updated_at, next_run_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?17, ?18)",
    )?;
    let inserted = stmt.execute(params![
        id.as_str(),
        task.tenant,
        task.name,
        task.command,
        data,
        task.schedule.kind().as_str(),
        task.schedule.expression(),
        task.schedule.timezone(),
        ms(task.schedule.anchor()),
        status.as_str(),
        i64::from(task.retries),
        duration_ms(task.retry_delay),
        task.retry_backoff.as_str(),
        duration_ms(task.timeout).max(1),
        task.overlap.as_str(),
        task.misfire.as_str(),
        ms(now),
        next_run_at.map(ms),
    ]);
    match inserted {
        Ok(_) => {}
        Err(error) if name_taken(&error) => {
            return Err(StoreError::NameTaken { tenant: task.tenant, name: task.name });
        }
        Err(error) => return Err(error.into()),
    }
    let now = rows::instant("now", ms(now))?;
    Ok(Task {
        id,
        tenant: task.tenant,
        name: task.name,
        command: task.command,
        data: task.data,
        schedule: task.schedule,
        status,
        retries: task.retries,
        retry_delay: task.retry_delay,
        retry_backoff: task.retry_backoff,
        timeout: task.timeout,
        overlap: task.overlap,
        misfire: task.misfire,
        created_at: now,
        updated_at: now,
        last_run_at: None,
        last_status: None,
        last_error: None,
        next_run_at,
        counters: TaskCounters::default(),
    })
}

pub(super) fn get(conn: &Connection, key: &TaskKey) -> Result<Option<Task>, StoreError> {
    match key {
        TaskKey::Id(id) => rows::task_by_id(conn, id),
        TaskKey::Name { tenant, name } => {
            let sql = format!("SELECT {TASK_COLUMNS} FROM scheduled_tasks WHERE tenant = ?1 AND name = ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = stmt.query(params![tenant, name])?;
            found.next()?.map(rows::task).transpose()
        }
    }
}

fn require(conn: &Connection, id: &TaskId) -> Result<Task, StoreError> {
    rows::task_by_id(conn, id)?.ok_or_else(|| StoreError::TaskNotFound(id.to_string()))
}

pub(super) fn list(conn: &Connection, filter: &TaskFilter) -> Result<Vec<Task>, StoreError> {
    let mut sql = format!("SELECT {TASK_COLUMNS} FROM scheduled_tasks WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(tenant) = &filter.tenant {
        values.push(Value::Text(tenant.clone()));
        sql.push_str(&format!(" AND tenant = ?{}", values.len()));
    }
    if let Some(status) = filter.status {
        values.push(Value::Text(status.as_str().to_owned()));
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    sql.push_str(" ORDER BY tenant, name");
    if let Some(limit) = filter.limit {
        values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ?{}", values.len()));
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut found = stmt.query(rusqlite::params_from_iter(values))?;
    let mut tasks = Vec::new();
    while let Some(row) = found.next()? {
        tasks.push(rows::task(row)?);
    }
    Ok(tasks)
}

fn write_back(conn: &Connection, task: &Task) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE scheduled_tasks SET name = ?2, command = ?3, data = ?4, schedule_kind = ?5, \
         schedule_expr = ?6, timezone = ?7, anchor_at = ?8, status = ?9, retries = ?10, \
         retry_delay_ms = ?11, retry_backoff = ?12, timeout_ms = ?13, overlap_policy = ?14, \
         misfire_policy = ?15, updated_at = ?16, next_run_at = ?17 WHERE id = ?1",
    )?;
    let result = stmt.execute(params![
        task.id.as_str(),
        task.name,
        task.command,
        task.data.to_string(),
        task.schedule.kind().as_str(),
        task.schedule.expression(),
        task.schedule.timezone(),
        ms(task.schedule.anchor()),
        task.status.as_str(),
        i64::from(task.retries),
        duration_ms(task.retry_delay),
        task.retry_backoff.as_str(),
        duration_ms(task.timeout).max(1),
        task.overlap.as_str(),
        task.misfire.as_str(),
        ms(task.updated_at),
        task.next_run_at.map(ms),
    ]);
    match result {
        Ok(_) => Ok(()),
        Err(error) if name_taken(&error) => {
            Err(StoreError::NameTaken { tenant: task.tenant.clone(), name: task.name.clone() })
        }
        Err(error) => Err(error.into()),
    }
}

/// Applies a patch. A new schedule recomputes the next run from `now`, and reactivates a
/// completed once task (it has something to do again).
pub(super) fn update(conn: &Connection, id: &TaskId, patch: TaskPatch, now: Timestamp) -> Result<Task, StoreError> {
    let mut task = require(conn, id)?;
    let TaskPatch { name, command, data, schedule, retries, retry_delay, retry_backoff, timeout, overlap, misfire } =
        patch;
    if let Some(name) = name {
        task.name = name;
    }
    if let Some(command) = command {
        task.command = command;
    }
    if let Some(data) = data {
        task.data = data;
    }
    if let Some(retries) = retries {
        task.retries = retries;
    }
    if let Some(retry_delay) = retry_delay {
        task.retry_delay = retry_delay;
    }
    if let Some(retry_backoff) = retry_backoff {
        task.retry_backoff = retry_backoff;
    }
    if let Some(timeout) = timeout {
        task.timeout = timeout;
    }
    if let Some(overlap) = overlap {
        task.overlap = overlap;
    }
    if let Some(misfire) = misfire {
        task.misfire = misfire;
    }
    if let Some(schedule) = schedule {
        task.schedule = schedule;
        if task.status == TaskStatus::Completed {
            task.status = TaskStatus::Active;
        }
        task.next_run_at = match task.status {
            TaskStatus::Active => task.schedule.first_fire(now),
            _ => None,
        };
    }
    task.updated_at = rows::instant("now", ms(now))?;
    write_back(conn, &task)?;
    Ok(task)
}

/// Deletes the task; finished executions stay as history, queued ones become `cancelled`.
pub(super) fn delete(conn: &Connection, id: &TaskId, now: Timestamp) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE task_executions SET status = 'cancelled', finished_at = ?2, \
         error = 'the task was deleted' WHERE task_id = ?1 AND status = 'queued' AND node_id IS NULL",
    )?
    .execute(params![id.as_str(), ms(now)])?;
    let deleted = conn.prepare_cached("DELETE FROM scheduled_tasks WHERE id = ?1")?.execute([id.as_str()])?;
    Ok(deleted > 0)
}

pub(super) fn pause(conn: &Connection, id: &TaskId, now: Timestamp) -> Result<Task, StoreError> {
    let mut task = require(conn, id)?;
    match task.status {
        TaskStatus::Paused => Ok(task),
        TaskStatus::Completed => Err(StoreError::InvalidState {
            task: task.name,
            status: TaskStatus::Completed,
            message: "a completed task does not fire, there is nothing to pause".to_owned(),
        }),
        TaskStatus::Active => {
            task.status = TaskStatus::Paused;
            task.next_run_at = None;
            task.updated_at = rows::instant("now", ms(now))?;
            write_back(conn, &task)?;
            Ok(task)
        }
    }
}

pub(super) fn resume(conn: &Connection, id: &TaskId, now: Timestamp) -> Result<Task, StoreError> {
    let mut task = require(conn, id)?;
    match task.status {
        TaskStatus::Active => Ok(task),
        TaskStatus::Completed => Err(StoreError::InvalidState {
            task: task.name,
            status: TaskStatus::Completed,
            message: "a completed once task cannot be resumed; update its schedule instead".to_owned(),
        }),
        TaskStatus::Paused => {
            task.status = TaskStatus::Active;
            task.next_run_at = task.schedule.first_fire(now);
            // A once task whose occurrence was already claimed (its retries may be pending)
            // has nothing left to schedule.
            if task.schedule.kind() == scheduler_schedule::ScheduleKind::Once
                && let Some(at) = task.next_run_at
                && occurrence_exists(conn, &task.id, at)?
            {
                task.next_run_at = None;
            }
            task.updated_at = rows::instant("now", ms(now))?;
            write_back(conn, &task)?;
            Ok(task)
        }
    }
}

fn occurrence_exists(conn: &Connection, id: &TaskId, at: Timestamp) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM task_executions WHERE task_id = ?1 \
             AND scheduled_for = ?2 AND attempt = 1 AND origin = 'schedule')",
        )?
        .query_row(params![id.as_str(), ms(at)], |row| row.get(0))?)
}

pub(super) fn next_attempt(conn: &Connection, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM task_executions WHERE retry_of = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query([id.0])?;
    found.next()?.map(rows::execution).transpose()
}

pub(super) fn history(conn: &Connection, query: &HistoryQuery) -> Result<Vec<Execution>, StoreError> {
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM task_executions WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(task_id) = &query.task_id {
        values.push(Value::Text(task_id.0.clone()));
        sql.push_str(&format!(" AND task_id = ?{}", values.len()));
    }
    if let Some(status) = query.status {
        values.push(Value::Text(status.as_str().to_owned()));
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    if let Some(since) = query.since {
        values.push(Value::Integer(ms(since)));
        sql.push_str(&format!(" AND scheduled_for >= ?{}", values.len()));
    }
    values.push(Value::Integer(i64::try_from(query.limit.unwrap_or(100)).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
    let mut stmt = conn.prepare(&sql)?;
    let mut found = stmt.query(rusqlite::params_from_iter(values))?;
    let mut executions = Vec::new();
    while let Some(row) = found.next()? {
        executions.push(rows::execution(row)?);
    }
    Ok(executions)
}

/// Counters come from the task rows (exact, never trimmed by retention); durations from the
/// last [`STATS_WINDOW`] finished attempts.
pub(super) fn stats(conn: &Connection, task: Option<&TaskId>) -> Result<TaskStats, StoreError> {
    let task_id = task.map(TaskId::as_str);
    let (runs, successes, failures, consecutive, last_run_at): (i64, i64, i64, i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(run_count), 0), COALESCE(SUM(success_count), 0), \
             COALESCE(SUM(failure_count), 0), COALESCE(MAX(consecutive_failures), 0), \
             MAX(last_run_at) FROM scheduled_tasks WHERE (?1 IS NULL OR id = ?1)",
        )?
        .query_row(params![task_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))?;
    let mut durations: Vec<i64> = conn
        .prepare_cached(
            "SELECT duration_ms FROM task_executions WHERE (?1 IS NULL OR task_id = ?1) \
             AND duration_ms IS NOT NULL AND status IN ('completed', 'failed', 'timeout') \
             ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![task_id, STATS_WINDOW], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    durations.sort_unstable();
    let avg_duration_ms =
        (!durations.is_empty()).then(|| durations.iter().map(|&d| d as f64).sum::<f64>() / durations.len() as f64);
    let p95_duration_ms = (!durations.is_empty()).then(|| {
        let rank = (durations.len() * 95).div_ceil(100).max(1) - 1;
        durations[rank.min(durations.len() - 1)]
    });
    let last_status: Option<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT status FROM task_executions WHERE (?1 IS NULL OR task_id = ?1) \
             AND status NOT IN ('queued', 'running', 'skipped') ORDER BY id DESC LIMIT 1",
        )?;
        let mut found = stmt.query(params![task_id])?;
        match found.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        }
    };
    let counters = TaskCounters {
        runs: u64::try_from(runs).unwrap_or(0),
        successes: u64::try_from(successes).unwrap_or(0),
        failures: u64::try_from(failures).unwrap_or(0),
        consecutive_failures: u64::try_from(consecutive).unwrap_or(0),
    };
    let decided = successes + failures;
    Ok(TaskStats {
        counters,
        success_rate: (decided > 0).then(|| successes as f64 / decided as f64),
        avg_duration_ms,
        p95_duration_ms,
        last_status: last_status.as_deref().and_then(ExecutionStatus::from_name),
        last_run_at: last_run_at.map(|at| rows::instant("last_run_at", at)).transpose()?,
    })
}

pub(super) fn append_audit(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit_log (at, actor, action, task_id, details) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![
            ms(entry.at),
            entry.actor,
            entry.action,
            entry.task_id.as_ref().map(TaskId::as_str),
            entry.details.to_string()
        ])?;
    Ok(())
}

pub(super) fn audit(conn: &Connection, task: Option<&TaskId>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, actor, action, task_id, details FROM audit_log \
         WHERE (?1 IS NULL OR task_id = ?1) ORDER BY id DESC LIMIT ?2",
    )?;
    let mut found = stmt.query(params![task.map(TaskId::as_str), i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut entries = Vec::new();
    while let Some(row) = found.next()? {
        let details: String = row.get(4)?;
        entries.push(AuditEntry {
            at: rows::instant("at", row.get(0)?)?,
            actor: row.get(1)?,
            action: row.get(2)?,
            task_id: row.get::<_, Option<String>>(3)?.map(TaskId),
            details: rows::json("details", &details)?,
        });
    }
    Ok(entries)
}
