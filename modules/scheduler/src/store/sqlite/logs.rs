//! Execution logs in SQLite: `task_logs` chunks (execution, arrival time, stream, up to
//! [`CHUNK_LINES`] consecutive lines), read by execution in row-id order (layout and why in
//! `migrations/0004_log_chunks.sql`).
//!
//! Invariants: a chunk holds lines of one stream from one batch, in order; line `i` of
//! chunk `id` has the id `id << LINE_BITS | i`, so line ids only grow in log order and "lines
//! after N" (the cursor a follow resumes from) never misses or repeats a line. A batch is
//! one job of the writer (one savepoint in its group commit): all its lines or none. The
//! execution must exist when the batch is written; a line is never orphaned.

use rusqlite::{Connection, Row, params};

use super::rows::{self, ms};
use crate::store::{LogBatch, LogQuery, StoreError};
use crate::task::{ExecutionId, LogLine, LogStream};

/// Most lines in one chunk (the schema checks it too).
const CHUNK_LINES: usize = 4096;
/// Bits of a line id that number the line inside its chunk.
const LINE_BITS: u32 = 16;
const _: () = assert!(CHUNK_LINES <= 1 << LINE_BITS);

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
    let mut insert = conn.prepare_cached(
        "INSERT INTO task_logs (execution_id, logged_at, stream, line_count, lengths, text) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let at = ms(batch.at);
    let mut text = String::new();
    let mut lengths = Vec::new();
    for run in batch.lines.chunk_by(|a, b| a.0 == b.0) {
        for chunk in run.chunks(CHUNK_LINES) {
            text.clear();
            lengths.clear();
            for (i, (_, line)) in chunk.iter().enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                text.push_str(line);
                let length = u32::try_from(line.len())
                    .map_err(|_| StoreError::Corrupt(format!("a log line of {} bytes is over 4 GiB", line.len())))?;
                lengths.extend_from_slice(&length.to_le_bytes());
            }
            let lengths = (chunk.len() > 1).then_some(lengths.as_slice());
            insert.execute(params![
                batch.execution_id.0,
                at,
                chunk[0].0.as_str(),
                i64::try_from(chunk.len()).unwrap_or(i64::MAX),
                lengths,
                text
            ])?;
        }
    }
    Ok(u64::try_from(batch.lines.len()).unwrap_or(u64::MAX))
}

/// The chunks holding lines after the cursor, of the stream; oldest first, or newest first
/// for a tail.
const READ_SQL: &str = "SELECT id, logged_at, stream, line_count, lengths, text FROM task_logs \
     WHERE execution_id = ?1 AND id >= ?2 AND (?3 IS NULL OR stream = ?3) ORDER BY id";
const TAIL_SQL: &str = "SELECT id, logged_at, stream, line_count, lengths, text FROM task_logs \
     WHERE execution_id = ?1 AND id >= ?2 AND (?3 IS NULL OR stream = ?3) ORDER BY id DESC";

pub(super) fn read(conn: &Connection, query: &LogQuery) -> Result<Vec<LogLine>, StoreError> {
    let after = query.after.unwrap_or(-1);
    // The chunk holding the cursor's line may hold later lines too.
    let first_chunk = after.max(0) >> LINE_BITS;
    let stream = query.stream.map(LogStream::as_str);
    let args = params![query.execution_id.0, first_chunk, stream];
    let mut lines = Vec::new();
    match query.tail {
        None => {
            let mut stmt = conn.prepare_cached(READ_SQL)?;
            let mut found = stmt.query(args)?;
            while lines.len() < query.limit {
                let Some(row) = found.next()? else { break };
                expand(row, query.execution_id, after, &mut lines)?;
            }
            lines.truncate(query.limit);
        }
        Some(tail) => {
            let mut stmt = conn.prepare_cached(TAIL_SQL)?;
            let mut found = stmt.query(args)?;
            let mut chunks = Vec::new();
            let mut held = 0;
            while held < tail {
                let Some(row) = found.next()? else { break };
                let mut chunk = Vec::new();
                expand(row, query.execution_id, after, &mut chunk)?;
                held += chunk.len();
                chunks.push(chunk);
            }
            lines = chunks.into_iter().rev().flatten().collect();
            let skip = lines.len().saturating_sub(tail);
            lines.drain(..skip);
            lines.truncate(query.limit);
        }
    }
    Ok(lines)
}

/// Appends the lines of one chunk row whose id is after `after`.
fn expand(row: &Row<'_>, execution_id: ExecutionId, after: i64, out: &mut Vec<LogLine>) -> Result<(), StoreError> {
    let chunk: i64 = row.get(0)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("task_logs row {chunk}: {what}"));
    let typed = |error: rusqlite::types::FromSqlError| corrupt(&error.to_string());
    let at = rows::instant("logged_at", row.get(1)?)?;
    let stream = stream_name(row.get_ref(2)?.as_str().map_err(typed)?)?;
    let count: i64 = row.get(3)?;
    let text = row.get_ref(5)?.as_str().map_err(typed)?;
    let mut push = |index: usize, line: &str| {
        let id = chunk << LINE_BITS | i64::try_from(index).unwrap_or(0);
        if id > after {
            out.push(LogLine { id, execution_id, at, stream, line: line.to_owned() });
        }
    };
    match row.get_ref(4)?.as_blob_or_null().map_err(typed)? {
        None if count == 1 => push(0, text),
        None => return Err(corrupt("several lines without their lengths")),
        Some(lengths) => {
            if i64::try_from(lengths.len() / 4).ok() != Some(count) || lengths.len() % 4 != 0 {
                return Err(corrupt("lengths do not match the line count"));
            }
            let mut start = 0usize;
            for (index, length) in lengths.chunks_exact(4).enumerate() {
                let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]) as usize;
                let line = start
                    .checked_add(length)
                    .and_then(|end| text.get(start..end))
                    .ok_or_else(|| corrupt("a line length is past the text or not on a character boundary"))?;
                push(index, line);
                // The separating `\n`.
                start += length + 1;
            }
        }
    }
    Ok(())
}
