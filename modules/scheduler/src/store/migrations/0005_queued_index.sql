-- Scheduler schema, version 5: the queued-work index holds only work no engine has claimed.
--
-- An occurrence claimed ahead of its instant is written `queued` under its engine's node
-- (`node_id` set) until it starts, and under version 4 it entered `ix_exec_queued` as well.
-- Nothing ever looks it up there: every reader of queued work wants unclaimed rows
-- (`node_id IS NULL`). It cost an index insert at the claim and a delete at the outcome on
-- every fire, and the claim's "when is the next queued row due" query stepped over every
-- row claimed ahead (up to one per task) before finding an unclaimed one.

DROP INDEX ix_exec_queued;
CREATE INDEX ix_exec_queued ON task_executions (run_at) WHERE status = 'queued' AND node_id IS NULL;
