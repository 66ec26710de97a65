-- Scheduler schema, version 3: execution logs carry the stream a line came from.
--
-- A runner (shell, http) writes what its job prints: each line is `stdout`, `stderr` or
-- `system` (written by the runner or the scheduler about the job: its exit, a truncation).
-- The severity `level` of version 1 is gone: nothing wrote it but the old single-line
-- append, and a job's output has no severity. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt; rows of version 1 become `system` lines.

CREATE TABLE task_logs_v3 (
    id           INTEGER PRIMARY KEY,  -- the cursor `scheduler:logs` follows (increasing)
    execution_id INTEGER NOT NULL,
    logged_at    INTEGER NOT NULL,
    stream       TEXT    NOT NULL CHECK (stream = 'stdout' OR stream = 'stderr' OR stream = 'system'),
    line         TEXT    NOT NULL
) STRICT;

INSERT INTO task_logs_v3 (id, execution_id, logged_at, stream, line)
    SELECT id, execution_id, logged_at, 'system', message FROM task_logs;

DROP TABLE task_logs;
ALTER TABLE task_logs_v3 RENAME TO task_logs;

-- One execution's lines in order (reads, tails and follows by cursor).
CREATE INDEX ix_logs_execution ON task_logs (execution_id, id);
-- Retention cleanup.
CREATE INDEX ix_logs_time ON task_logs (logged_at);
