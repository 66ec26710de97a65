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
use crate::store::{AuditNote, CancelOutcome, ChangeOutcome, Finish, FinishOutcome, Finished, StoreError, TaskChange};
use crate::task::{AuditEntry, ExecutionId, ExecutionStatus, TaskId, TaskStatus};

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
        TaskChange::Cancel(id) => ChangeOutcome::Cancel(cancel(conn, id, audit, now)?),
    })
}

/// Cancels an execution that has not ended (see [`TaskChange::Cancel`]). A queued row
/// nobody claimed is only marked; a running row (or a claim waiting for its instant) is
/// finished as `cancelled` through the same outcome path as the engine's, so its counters
/// and once completion follow and the engine's own outcome for it is later dropped.
fn cancel(conn: &Connection, id: ExecutionId, audit: &AuditNote, now: Timestamp) -> Result<CancelOutcome, StoreError> {
    let execution = rows::execution_by_id(conn, id)?.ok_or(StoreError::ExecutionNotFound(id))?;
    let before = execution.status;
    let claimed = execution.node_id.is_some();
    let finished = match before {
        ExecutionStatus::Queued if !claimed => {
            if !engine::cancel_queued(conn, id, now)? {
                return Err(StoreError::Database(format!("execution {id} changed while being cancelled")));
            }
            let execution = rows::execution_by_id(conn, id)?.ok_or(StoreError::ExecutionNotFound(id))?;
            let tenant = rows::task_by_id(conn, &execution.task_id)?.map(|task| task.tenant).unwrap_or_default();
            Finished { execution, tenant, retry: None, task_completed: false, queued_waiting: false }
        }
        ExecutionStatus::Queued | ExecutionStatus::Running => {
            let ran = match (before, execution.started_at) {
                (ExecutionStatus::Running, Some(started)) => now.duration_since(started),
                _ => jiff::SignedDuration::ZERO,
            };
            let finish = Finish {
                execution_id: id,
                status: ExecutionStatus::Cancelled,
                finished_at: now,
                duration: std::time::Duration::try_from(ran).unwrap_or_default(),
                output: None,
                error: Some("cancelled on request".to_owned()),
                retryable: false,
                retry_not_before: None,
                retry_delay_max: std::time::Duration::ZERO,
                retry_jitter: false,
            };
            match engine::finish(conn, &finish)? {
                FinishOutcome::Finished(finished) => *finished,
                FinishOutcome::NotRunning => {
                    return Err(StoreError::Database(format!("execution {id} changed while being cancelled")));
                }
            }
        }
        _ => return Ok(CancelOutcome::AlreadyEnded(Box::new(execution))),
    };
    // The outcome is `cancelled`; what it was before (`queued` or `running`) goes beside it.
    let mut audit = audit.clone();
    if let serde_json::Value::Object(object) = &mut audit.details {
        object.insert("was".to_owned(), before.as_str().into());
    }
    record(conn, &audit, &finished.execution.task_id, "cancelled", Some(id), now)?;
    Ok(CancelOutcome::Cancelled { finished: Box::new(finished), before })
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
