//! Changes made by commands, each written with its audit rows in the same job (so the same
//! transaction and savepoint): a change whose audit row cannot be written is rolled back,
//! and an audit row exists only for a change that happened.
//!
//! "Changed" is decided inside the transaction (the writer thread runs one job at a time),
//! so concurrent pauses of one task change it once and audit it once; a pause of a paused
//! task, or a resume of an active one, writes nothing. Every audit row carries the change's
//! own instant, who asked (the note's actor: the bus caller), what (action, task) and the
//! outcome (`details.outcome`: `created`, `updated`, `deleted`, `paused`, `resumed`, or the
//! manual run's status, with its `execution_id`).

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::{engine, rows, tasks};
use crate::store::{AuditNote, ChangeOutcome, StoreError, TaskChange};
use crate::task::{AuditEntry, ExecutionId, TaskId, TaskStatus};

pub(super) fn change(
    conn: &Connection,
    change: TaskChange,
    audit: &AuditNote,
    now: Timestamp,
) -> Result<ChangeOutcome, StoreError> {
    Ok(match change {
        TaskChange::Create(task) => {
            let task = tasks::create(conn, task, now)?;
            record(conn, audit, &task.id, "created", None, now)?;
            ChangeOutcome::Task(Box::new(task))
        }
        TaskChange::Update(id, patch) => {
            let task = tasks::update(conn, &id, patch, now)?;
            record(conn, audit, &task.id, "updated", None, now)?;
            ChangeOutcome::Task(Box::new(task))
        }
        TaskChange::Delete(id) => match rows::task_by_id(conn, &id)? {
            None => ChangeOutcome::Deleted(None),
            Some(task) => {
                if !tasks::delete(conn, &id, now)? {
                    return Ok(ChangeOutcome::Deleted(None));
                }
                record(conn, audit, &task.id, "deleted", None, now)?;
                ChangeOutcome::Deleted(Some(Box::new(task)))
            }
        },
        TaskChange::Pause(id) => ChangeOutcome::Switched(switch(conn, &[id], TaskStatus::Paused, audit, now)?),
        TaskChange::Resume(id) => ChangeOutcome::Switched(switch(conn, &[id], TaskStatus::Active, audit, now)?),
        TaskChange::PauseAll(tenant) => {
            let ids = with_status(conn, TaskStatus::Active, tenant.as_deref())?;
            ChangeOutcome::Switched(switch(conn, &ids, TaskStatus::Paused, audit, now)?)
        }
        TaskChange::ResumeAll(tenant) => {
            let ids = with_status(conn, TaskStatus::Paused, tenant.as_deref())?;
            ChangeOutcome::Switched(switch(conn, &ids, TaskStatus::Active, audit, now)?)
        }
        TaskChange::RequestRun(id) => {
            let requested = engine::request_run(conn, &id, now)?;
            let row = &requested.row;
            record(conn, audit, &id, row.status.as_str(), Some(row.id), now)?;
            ChangeOutcome::Run(Box::new(requested))
        }
    })
}

/// Switches each task to `target` unless it is there already; returns (and audits) the
/// tasks that changed.
fn switch(
    conn: &Connection,
    ids: &[TaskId],
    target: TaskStatus,
    audit: &AuditNote,
    now: Timestamp,
) -> Result<Vec<crate::task::Task>, StoreError> {
    let mut changed = Vec::new();
    for id in ids {
        let task = rows::task_by_id(conn, id)?.ok_or_else(|| StoreError::TaskNotFound(id.to_string()))?;
        if task.status == target {
            continue;
        }
        let task = match target {
            TaskStatus::Paused => tasks::pause(conn, id, now)?,
            _ => tasks::resume(conn, id, now)?,
        };
        let outcome = if target == TaskStatus::Paused { "paused" } else { "resumed" };
        record(conn, audit, id, outcome, None, now)?;
        changed.push(task);
    }
    Ok(changed)
}

fn with_status(conn: &Connection, status: TaskStatus, tenant: Option<&str>) -> Result<Vec<TaskId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM scheduled_tasks WHERE status = ?1 AND (?2 IS NULL OR tenant = ?2) ORDER BY tenant, name",
    )?;
    let ids =
        stmt.query_map(params![status.as_str(), tenant], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(ids.into_iter().map(TaskId).collect())
}

/// Writes one audit row: the note's details with the outcome added (a manual run's also
/// names its execution and, as before, its `status`).
fn record(
    conn: &Connection,
    audit: &AuditNote,
    task: &TaskId,
    outcome: &str,
    execution: Option<ExecutionId>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut details = match &audit.details {
        serde_json::Value::Object(object) => object.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("params".to_owned(), other.clone())]),
    };
    details.insert("outcome".to_owned(), outcome.into());
    if let Some(execution) = execution {
        details.insert("execution_id".to_owned(), execution.0.into());
        details.insert("status".to_owned(), outcome.into());
    }
    let details = serde_json::Value::Object(details);
    let entry = AuditEntry {
        at: now,
        actor: audit.actor.clone(),
        action: audit.action.clone(),
        task_id: Some(task.clone()),
        details,
    };
    tasks::append_audit(conn, &entry)
}
