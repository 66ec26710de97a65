//! Execution logs in SQLite: `task_logs` rows (execution, arrival time, stream, line), read
//! by execution in row-id order. The row id is the cursor a follow resumes from: it only
//! grows, so "lines after N" never misses or repeats a line.
//!
//! A batch is one job of the writer (one savepoint in its group commit): all its lines or
//! none. The execution must exist when the batch is written; a line is never orphaned.

use rusqlite::{Connection, params};

use super::rows::{self, ms};
use crate::store::{LogBatch, LogQuery, StoreError};
use crate::task::{LogLine, LogStream};

fn stream_name(name: &str) -> Result<LogStream, StoreError> {
    match name {
        "stdout" => Ok(LogStream::Stdout),
        "stderr" => Ok(LogStream::Stderr),
        "system" => Ok(LogStream::System),
        other => Err(StoreError::Corrupt(format!("stream: unknown value '{other}'"))),
    }
}

pub(super) fn append(conn: &Connection, batch: &LogBatch) -> Result<u64, StoreError> {
    let known = conn.prepare_cached("SELECT 1 FROM task_executions WHERE id = ?1")?.exists([batch.execution_id.0])?;
    if !known {
        return Err(StoreError::ExecutionNotFound(batch.execution_id));
    }
    let mut insert =
        conn.prepare_cached("INSERT INTO task_logs (execution_id, logged_at, stream, line) VALUES (?1, ?2, ?3, ?4)")?;
    let at = ms(batch.at);
    for (stream, line) in &batch.lines {
        insert.execute(params![batch.execution_id.0, at, stream.as_str(), line])?;
    }
    Ok(u64::try_from(batch.lines.len()).unwrap_or(u64::MAX))
}

/// The lines matching the cursor and stream; `tail` reads the newest first and reverses.
const READ_SQL: &str = "SELECT id, logged_at, stream, line FROM task_logs \
     WHERE execution_id = ?1 AND id > ?2 AND (?3 IS NULL OR stream = ?3) ORDER BY id LIMIT ?4";
const TAIL_SQL: &str = "SELECT id, logged_at, stream, line FROM (SELECT id, logged_at, stream, line FROM task_logs \
     WHERE execution_id = ?1 AND id > ?2 AND (?3 IS NULL OR stream = ?3) ORDER BY id DESC LIMIT ?5) \
     ORDER BY id LIMIT ?4";

pub(super) fn read(conn: &Connection, query: &LogQuery) -> Result<Vec<LogLine>, StoreError> {
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let after = query.after.unwrap_or(0);
    let stream = query.stream.map(LogStream::as_str);
    let mut stmt;
    let mut found = match query.tail {
        Some(tail) => {
            stmt = conn.prepare_cached(TAIL_SQL)?;
            stmt.query(params![query.execution_id.0, after, stream, limit, i64::try_from(tail).unwrap_or(i64::MAX)])?
        }
        None => {
            stmt = conn.prepare_cached(READ_SQL)?;
            stmt.query(params![query.execution_id.0, after, stream, limit])?
        }
    };
    let mut lines = Vec::new();
    while let Some(row) = found.next()? {
        let stream: String = row.get(2)?;
        lines.push(LogLine {
            id: row.get(0)?,
            execution_id: query.execution_id,
            at: rows::instant("logged_at", row.get(1)?)?,
            stream: stream_name(&stream)?,
            line: row.get(3)?,
        });
    }
    Ok(lines)
}
