-- Scheduler schema, version 1. Instants are Unix milliseconds (UTC); JSON is text.

CREATE TABLE scheduled_tasks (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant               TEXT    NOT NULL DEFAULT 'default',
    name                 TEXT    NOT NULL,
    command              TEXT    NOT NULL,
    data                 TEXT    NOT NULL DEFAULT '{}',
    schedule_kind        TEXT    NOT NULL CHECK (schedule_kind IN ('cron', 'interval', 'once', 'manual')),
    schedule_expr        TEXT    NOT NULL,
    timezone             TEXT    NOT NULL DEFAULT 'UTC',
    anchor_at            INTEGER NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed')),
    retries              INTEGER NOT NULL CHECK (retries >= 0),
    retry_delay_ms       INTEGER NOT NULL CHECK (retry_delay_ms >= 0),
    retry_backoff        TEXT    NOT NULL DEFAULT 'exponential' CHECK (retry_backoff IN ('fixed', 'exponential')),
    timeout_ms           INTEGER NOT NULL CHECK (timeout_ms > 0),
    overlap_policy       TEXT    NOT NULL DEFAULT 'skip' CHECK (overlap_policy IN ('skip', 'queue', 'allow')),
    misfire_policy       TEXT    NOT NULL DEFAULT 'run_once' CHECK (misfire_policy IN ('run_once', 'skip', 'run_all')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    last_run_at          INTEGER,
    last_status          TEXT,
    last_error           TEXT,
    next_run_at          INTEGER,
    run_count            INTEGER NOT NULL DEFAULT 0,
    success_count        INTEGER NOT NULL DEFAULT 0,
    failure_count        INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, name)
) STRICT;

-- The due-task query (status = 'active' AND next_run_at <= ?) is served by this index.
CREATE INDEX ix_tasks_due ON scheduled_tasks (next_run_at)
    WHERE status = 'active' AND next_run_at IS NOT NULL;

CREATE TABLE task_executions (
    id            INTEGER PRIMARY KEY,
    task_id       TEXT    NOT NULL,
    task_name     TEXT    NOT NULL,
    -- Checks on this hot table are OR chains: an IN list costs a temporary b-tree per row.
    origin        TEXT    NOT NULL CHECK (origin = 'schedule' OR origin = 'manual'),
    trigger       TEXT    NOT NULL CHECK (trigger = 'schedule' OR trigger = 'manual' OR trigger = 'retry'
                                          OR trigger = 'catch-up'),
    scheduled_for INTEGER NOT NULL,
    attempt       INTEGER NOT NULL CHECK (attempt >= 1),
    status        TEXT    NOT NULL CHECK (status = 'queued' OR status = 'running' OR status = 'completed'
                                          OR status = 'failed' OR status = 'timeout' OR status = 'interrupted'
                                          OR status = 'skipped' OR status = 'cancelled'),
    run_at        INTEGER,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    deadline_at   INTEGER,
    duration_ms   INTEGER,
    output        TEXT,
    error         TEXT,
    node_id       TEXT,
    retry_of      INTEGER
) STRICT;

-- A scheduled occurrence and attempt has at most one execution: a second claim is impossible.
CREATE UNIQUE INDEX ux_exec_occurrence ON task_executions (task_id, scheduled_for, attempt)
    WHERE origin = 'schedule';
-- An attempt has at most one retry.
CREATE UNIQUE INDEX ux_exec_retry_of ON task_executions (retry_of) WHERE retry_of IS NOT NULL;
-- Queued work by due time.
CREATE INDEX ix_exec_queued ON task_executions (run_at) WHERE status = 'queued';
-- Overlap checks and recovery look only at unfinished rows.
CREATE INDEX ix_exec_active ON task_executions (task_id, status) WHERE status = 'queued' OR status = 'running';
-- History per task, newest first.
CREATE INDEX ix_exec_task ON task_executions (task_id, id);
-- Retention cleanup.
CREATE INDEX ix_exec_finished ON task_executions (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE task_logs (
    id           INTEGER PRIMARY KEY,
    execution_id INTEGER NOT NULL,
    logged_at    INTEGER NOT NULL,
    level        TEXT    NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message      TEXT    NOT NULL
) STRICT;

CREATE INDEX ix_logs_execution ON task_logs (execution_id, id);
CREATE INDEX ix_logs_time ON task_logs (logged_at);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    task_id TEXT,
    details TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX ix_audit_task ON audit_log (task_id, id);
