//! The SQLite implementation of [`Store`]: one writer thread with group commit, one reader
//! thread, both owning their own connection to a WAL database.
//!
//! Writes are jobs (closures over a `&Connection`) sent to the writer thread. It takes every
//! job waiting in its queue (up to [`MAX_GROUP`]), runs them in one `BEGIN IMMEDIATE`
//! transaction, each inside its own savepoint (so a failing job rolls back alone), commits
//! once, and only then answers each caller: an answered write is committed. Reads go to the
//! reader thread, which sees committed data only.
//!
//! Migrations are SQL files compiled in with `include_str!` and applied in order, tracked by
//! `PRAGMA user_version`. A database newer than this code is refused.
//!
//! Opening checks an existing file first (`check.rs`): an empty, foreign or damaged file
//! is refused, never replaced or written to.
//!
//! Settings: `journal_mode=WAL`, `synchronous=NORMAL`, `busy_timeout=5000`,
//! `temp_store=MEMORY` (savepoint sub-journals), `journal_size_limit` 4 MiB.
//!
//! Cost rule: the statements a job repeats (a claim's and a batch of outcomes' per row) are
//! plain INSERT/UPDATE/SELECT, never `… RETURNING`. SQLite gives a RETURNING statement a
//! statement journal, and inside the job's savepoint each statement's end then walks the
//! savepoint's in-memory journal from its start: a job of n rows costs n² (a batch of 1,000
//! outcomes spent more time there than in its writes). The default page cache (2 MB) is
//! kept: a 16 MiB one measured no faster at 10,000 fires a second and costs 20 MB of RSS.
//!
//! A full disk: SQLite reports `SQLITE_FULL` and rolls the transaction back; the writer
//! answers every job of the group with [`StoreError::DiskFull`] (never the follow-on
//! "cannot commit - no transaction is active") and then checkpoints the WAL with
//! `wal_checkpoint(TRUNCATE)`, so what the failed transaction appended to the `-wal` file is
//! given back. With `journal_size_limit` the WAL also shrinks after every ordinary
//! checkpoint; together the store cannot refill a disk the operator just freed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::{
    AuditNote, ChangeOutcome, ClaimOutcome, ClaimRequest, CleanupBatch, ClockJump, ClockRebased, Finish, FinishOutcome,
    Finished, HistoryQuery, LogBatch, LogQuery, RecoverRequest, RunRequested, Store, StoreError, StoreFuture,
    TaskChange, TaskFilter,
};
use crate::task::{AuditEntry, Execution, ExecutionId, LogLine, NewTask, Task, TaskId, TaskKey, TaskPatch, TaskStats};

mod audited;
mod check;
mod clock;
mod engine;
mod logs;
mod rows;
mod tasks;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull(error.to_string()),
            Some(rusqlite::ErrorCode::SystemIoFailure) => StoreError::Io(error.to_string()),
            _ => StoreError::Database(error.to_string()),
        }
    }
}

/// Bytes the `-wal` file is truncated to after a checkpoint (4 MiB, about SQLite's default
/// auto-checkpoint of 1,000 pages).
const JOURNAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Most jobs committed in one transaction.
pub(crate) const MAX_GROUP: usize = 512;

/// The migrations, in order; migration `i` moves `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_clock_epochs.sql"),
    include_str!("../migrations/0003_log_streams.sql"),
    include_str!("../migrations/0004_log_chunks.sql"),
    include_str!("../migrations/0005_queued_index.sql"),
];

/// A unit of work for a store thread.
trait Job: Send {
    /// Runs the work on the connection (inside a savepoint for the writer).
    fn run(&mut self, conn: &Connection, savepoint: bool);
    /// Answers the caller; `commit` is the group's commit result.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
    /// Urgent jobs (claims) run first in their group.
    fn urgent(&self) -> bool;
    /// The storage failure (full disk, I/O) the job's work hit, if any: it names the cause
    /// when SQLite then rolled the whole group back.
    fn storage_failure(&self) -> Option<StoreError>;
}

type Work<T> = Box<dyn FnOnce(&Connection) -> Result<T, StoreError> + Send>;

struct FnJob<T> {
    urgent: bool,
    work: Option<Work<T>>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

fn exec_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

impl<T: Send> Job for FnJob<T> {
    fn urgent(&self) -> bool {
        self.urgent
    }

    fn storage_failure(&self) -> Option<StoreError> {
        match &self.result {
            Some(Err(error)) if error.is_storage_failure() => Some(error.clone()),
            _ => None,
        }
    }

    fn run(&mut self, conn: &Connection, savepoint: bool) {
        let Some(work) = self.work.take() else {
            return;
        };
        let guarded = |conn: &Connection| {
            catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(StoreError::Database("a store job panicked".to_owned())))
        };
        self.result = Some(if savepoint { within_savepoint(conn, guarded) } else { guarded(conn) });
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match commit {
            Ok(()) => self.result.unwrap_or_else(|| Err(StoreError::Database("a store job did not run".to_owned()))),
            Err(error) => Err(error),
        };
        // The caller may have stopped waiting; that is fine.
        let _ = self.reply.send(result);
    }
}

/// Runs `work` inside a savepoint: released when it succeeds, rolled back when it fails (so
/// a failing job, or one outcome of a batch, rolls back alone). When the work failed, its
/// error is the answer, whatever ending the savepoint said; after a storage failure (a full
/// disk) SQLite has rolled the whole transaction back and there is nothing to end.
///
/// Every savepoint has the one name `work`: savepoints nest, and `RELEASE`/`ROLLBACK TO` act
/// on the innermost of a name, so a batch inside a job needs no name of its own and the
/// three statements stay fixed (prepared once, not formatted per job).
pub(super) fn within_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    exec_cached(conn, "SAVEPOINT work")?;
    let result = work(conn);
    if conn.is_autocommit() {
        return result;
    }
    let end = match &result {
        Ok(_) => exec_cached(conn, "RELEASE work"),
        Err(_) => exec_cached(conn, "ROLLBACK TO work").and_then(|()| exec_cached(conn, "RELEASE work")),
    };
    match (result, end) {
        (Err(cause), _) => Err(cause),
        (Ok(_), Err(error)) => Err(error),
        (Ok(value), Ok(())) => Ok(value),
    }
}

fn writer_loop(conn: Connection, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Claims first: they decide how late the next executions start.
        group.sort_by_key(|job| !job.urgent());
        if let Err(error) = exec_cached(&conn, "BEGIN IMMEDIATE") {
            for job in group {
                job.finish(Err(error.clone()));
            }
            continue;
        }
        for job in &mut group {
            job.run(&conn, true);
        }
        // On SQLITE_FULL (and some I/O errors) SQLite rolls the whole transaction back by
        // itself; COMMIT would then only say "no transaction is active". Report the cause.
        let commit = if conn.is_autocommit() {
            Err(group
                .iter()
                .find_map(|job| job.storage_failure())
                .unwrap_or_else(|| StoreError::Database("the database rolled the transaction back".to_owned())))
        } else {
            exec_cached(&conn, "COMMIT")
        };
        if let Err(error) = &commit {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            if error.is_storage_failure() {
                release_space(&conn);
            }
        }
        for job in group {
            job.finish(commit.clone());
        }
    }
}

/// After a write failed for want of space: checkpoint the WAL into the database and truncate
/// it to zero bytes, so the space the failed transaction took in the `-wal` file is handed
/// back at once and the store does not itself keep the disk full. Best effort: on a disk
/// with no room at all the checkpoint fails too, and the next failure tries again.
///
/// The busy handler is off meanwhile: a TRUNCATE checkpoint otherwise waits (up to the
/// busy timeout) for every reader, and the writer thread must not stall on a full disk.
fn release_space(conn: &Connection) {
    let _ = conn.busy_timeout(Duration::ZERO);
    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!(%error, "WAL checkpoint after a failed write did not complete.");
    }
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
}

fn reader_loop(conn: Connection, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(mut job) = jobs.recv() {
        // One read transaction per job, so multi-statement reads see one snapshot.
        let begin = exec_cached(&conn, "BEGIN");
        if let Err(error) = begin {
            job.finish(Err(error));
            continue;
        }
        job.run(&conn, false);
        let end = exec_cached(&conn, "COMMIT");
        job.finish(end);
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // The WAL file never shrinks by itself: after a checkpoint resets it, SQLite
        // truncates it to this size, so a burst of writes does not keep its peak size on
        // disk (a full disk freed by the operator is not refilled by the store's own WAL).
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Savepoint sub-journals (one per grouped job) stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies pending migrations; refuses a database newer than this code.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|error| StoreError::Migration(error.to_string()))?;
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    if version > known {
        return Err(StoreError::Migration(format!(
            "the database has schema version {version}, this scheduler knows up to {known}"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|error| StoreError::Migration(error.to_string()))?;
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", next))
            .and_then(|()| tx.commit())
            .map_err(|error| StoreError::Migration(format!("migration {next}: {error}")))?;
    }
    Ok(known)
}

/// A SQLite store; cheap to share behind an `Arc`. Dropping it ends its threads once their
/// queued jobs are done.
#[derive(Debug)]
pub struct SqliteStore {
    writer: mpsc::Sender<Box<dyn Job>>,
    reader: mpsc::Sender<Box<dyn Job>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`, then starts the
    /// writer and reader threads. Blocking: call it at start-up, before serving.
    ///
    /// An existing file is checked first and refused with [`StoreError::Damaged`] when it is
    /// empty, not a SQLite database, or fails `PRAGMA quick_check`; a refused file is not
    /// written to.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|error| StoreError::Database(format!("cannot create {}: {error}", parent.display())))?;
        }
        // Before anything can write to it: an existing file must be a sound database.
        check::existing_database(path)?;
        let mut writer_conn = open_connection(path, false)?;
        migrate(&mut writer_conn)?;
        let reader_conn = open_connection(path, true)?;
        let (writer, writer_jobs) = mpsc::channel::<Box<dyn Job>>();
        let (reader, reader_jobs) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("scheduler-db-writer".to_owned())
            .spawn(move || writer_loop(writer_conn, writer_jobs))
            .map_err(|error| StoreError::Database(format!("cannot start writer: {error}")))?;
        std::thread::Builder::new()
            .name("scheduler-db-reader".to_owned())
            .spawn(move || reader_loop(reader_conn, reader_jobs))
            .map_err(|error| StoreError::Database(format!("cannot start reader: {error}")))?;
        Ok(SqliteStore { writer, reader, path: path.to_owned() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn submit<T: Send + 'static>(queue: &mpsc::Sender<Box<dyn Job>>, work: Work<T>, urgent: bool) -> StoreFuture<T> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(FnJob { urgent, work: Some(work), result: None, reply });
        let sent = queue.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        SqliteStore::submit(&self.writer, Box::new(work), false)
    }

    fn write_urgent<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        SqliteStore::submit(&self.writer, Box::new(work), true)
    }

    fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        SqliteStore::submit(&self.reader, Box::new(work), false)
    }

    /// Runs arbitrary read-only SQL on the reader connection (diagnostics and tests).
    pub fn with_reader<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        self.read(work)
    }

    /// Runs arbitrary SQL in a write transaction (tests and repairs).
    pub fn with_writer<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        self.write(work)
    }
}

/// The query that finds due tasks (after `SELECT <columns>`); a test checks its plan.
#[cfg(test)]
pub(crate) use engine::{DUE_TASKS_SQL, NEXT_QUEUED_SQL, QUEUED_DUE_SQL};
#[cfg(test)]
pub(crate) use rows::TASK_COLUMNS;

impl Store for SqliteStore {
    fn create_task(&self, task: NewTask, now: Timestamp) -> StoreFuture<Task> {
        self.write(move |conn| tasks::create(conn, task, now))
    }

    fn create_tasks(&self, tasks: Vec<NewTask>, now: Timestamp) -> StoreFuture<Vec<TaskId>> {
        self.write(move |conn| {
            tasks.into_iter().map(|task| tasks::create(conn, task, now).map(|task| task.id)).collect()
        })
    }

    fn get_task(&self, key: TaskKey) -> StoreFuture<Option<Task>> {
        self.read(move |conn| tasks::get(conn, &key))
    }

    fn list_tasks(&self, filter: TaskFilter) -> StoreFuture<Vec<Task>> {
        self.read(move |conn| tasks::list(conn, &filter))
    }

    fn update_task(&self, id: TaskId, patch: TaskPatch, now: Timestamp) -> StoreFuture<Task> {
        self.write(move |conn| tasks::update(conn, &id, patch, now))
    }

    fn delete_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<bool> {
        self.write(move |conn| tasks::delete(conn, &id, now))
    }

    fn pause_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task> {
        self.write(move |conn| tasks::pause(conn, &id, now))
    }

    fn resume_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<Task> {
        self.write(move |conn| tasks::resume(conn, &id, now))
    }

    fn get_execution(&self, id: ExecutionId) -> StoreFuture<Option<Execution>> {
        self.read(move |conn| rows::execution_by_id(conn, id))
    }

    fn next_attempt(&self, id: ExecutionId) -> StoreFuture<Option<Execution>> {
        self.read(move |conn| tasks::next_attempt(conn, id))
    }

    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<Execution>> {
        self.read(move |conn| tasks::history(conn, &query))
    }

    fn stats(&self, task: Option<TaskId>) -> StoreFuture<TaskStats> {
        self.read(move |conn| tasks::stats(conn, task.as_ref()))
    }

    fn append_logs(&self, batch: LogBatch) -> StoreFuture<u64> {
        self.write(move |conn| logs::append(conn, &batch))
    }

    fn logs(&self, query: LogQuery) -> StoreFuture<Vec<LogLine>> {
        self.read(move |conn| logs::read(conn, &query))
    }

    fn audit(&self, task: Option<TaskId>, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        self.read(move |conn| tasks::audit(conn, task.as_ref(), limit))
    }

    fn change_audited(&self, change: TaskChange, audit: AuditNote, now: Timestamp) -> StoreFuture<ChangeOutcome> {
        // A run request is urgent like the engine's own: it decides how soon the run starts.
        let urgent = matches!(change, TaskChange::RequestRun(_));
        let work: Work<ChangeOutcome> = Box::new(move |conn| audited::change(conn, change, &audit, now));
        SqliteStore::submit(&self.writer, work, urgent)
    }

    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<ClaimOutcome> {
        self.write_urgent(move |conn| engine::claim_due(conn, &request))
    }

    fn request_run(&self, id: TaskId, now: Timestamp) -> StoreFuture<RunRequested> {
        self.write_urgent(move |conn| engine::request_run(conn, &id, now))
    }

    fn finish_executions(&self, finishes: Vec<Finish>) -> StoreFuture<Vec<Result<FinishOutcome, StoreError>>> {
        self.write(move |conn| engine::finish_all(conn, &finishes))
    }

    fn mark_claim(&self, id: ExecutionId, dispatched: bool) -> StoreFuture<bool> {
        self.write(move |conn| engine::mark_claim(conn, id, dispatched))
    }

    fn cancel_queued(&self, id: ExecutionId, now: Timestamp) -> StoreFuture<bool> {
        self.write(move |conn| engine::cancel_queued(conn, id, now))
    }

    fn recover(&self, request: RecoverRequest) -> StoreFuture<Vec<Finished>> {
        self.write(move |conn| engine::recover(conn, &request))
    }

    fn cleanup(&self, before: Timestamp, batch: usize) -> StoreFuture<CleanupBatch> {
        self.write(move |conn| engine::cleanup(conn, before, batch))
    }

    fn rebase_clock(&self, jump: ClockJump) -> StoreFuture<ClockRebased> {
        self.write_urgent(move |conn| clock::rebase(conn, &jump))
    }
}
