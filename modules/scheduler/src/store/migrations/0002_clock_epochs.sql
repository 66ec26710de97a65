-- Scheduler schema, version 2: clock epochs, so that a backward wall-clock jump can fire the
-- wall-clock instants it re-lives without breaking the one-execution-per-occurrence rule.
--
-- Each backward jump the engine detects opens a new epoch (a row here). An occurrence is now
-- identified by (task, scheduled_for, attempt, clock_epoch): the instant 10:01 fired before a
-- jump back (epoch 0) and the instant 10:01 fired again after it (epoch 1) are two
-- occurrences, each still claimable once only. Rows written before this migration are epoch 0.

CREATE TABLE clock_epochs (
    epoch       INTEGER PRIMARY KEY,  -- 1, 2, ...; epoch 0 is the time before any recorded jump
    detected_at INTEGER NOT NULL,     -- the new (earlier) wall-clock time when the jump was seen
    jump_ms     INTEGER NOT NULL CHECK (jump_ms > 0),  -- how far the wall clock went back
    node_id     TEXT    NOT NULL      -- the engine that saw it
) STRICT;

ALTER TABLE task_executions ADD COLUMN clock_epoch INTEGER NOT NULL DEFAULT 0;

DROP INDEX ux_exec_occurrence;
-- A scheduled occurrence and attempt of one clock epoch has at most one execution.
CREATE UNIQUE INDEX ux_exec_occurrence ON task_executions (task_id, scheduled_for, attempt, clock_epoch)
    WHERE origin = 'schedule';
