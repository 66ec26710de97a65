-- Scheduler schema, version 4: an execution's log is stored in chunks of lines.
--
-- A row of version 3 held one line, so a job printing short lines cost three B-tree
-- inserts (the row and two indexes) per line, and capture stalled at about 30 MB/s of
-- 100-byte lines. A row now holds consecutive lines of one stream that arrived in one
-- batch (at most 4096): `text` is the lines joined by `\n`, readable as it is, and
-- `lengths` the byte length of each line (little-endian u32s), so a line that itself holds
-- a `\n` comes back exactly; NULL when the chunk is one line (all of `text`).
--
-- Line identity: line `i` of chunk `id` is `id << 16 | i`, increasing in log order, the
-- cursor `scheduler:logs --follow` resumes from. Rows of version 3 become one-line chunks
-- of the same id.

CREATE TABLE task_logs_v4 (
    id           INTEGER PRIMARY KEY,
    execution_id INTEGER NOT NULL,
    logged_at    INTEGER NOT NULL,
    stream       TEXT    NOT NULL CHECK (stream = 'stdout' OR stream = 'stderr' OR stream = 'system'),
    line_count   INTEGER NOT NULL CHECK (line_count >= 1 AND line_count <= 4096),
    lengths      BLOB    CHECK ((lengths IS NULL AND line_count = 1) OR length(lengths) = 4 * line_count),
    text         TEXT    NOT NULL
) STRICT;

INSERT INTO task_logs_v4 (id, execution_id, logged_at, stream, line_count, lengths, text)
    SELECT id, execution_id, logged_at, stream, 1, NULL, line FROM task_logs;

DROP TABLE task_logs;
ALTER TABLE task_logs_v4 RENAME TO task_logs;

-- One execution's chunks in order (reads, tails and follows by cursor).
CREATE INDEX ix_logs_execution ON task_logs (execution_id, id);
-- Retention cleanup.
CREATE INDEX ix_logs_time ON task_logs (logged_at);
