//! `scheduler:append-logs`: a runner module appends lines to the log of the execution it
//! runs (`Call::occurrence().execution_id`), in one batch, stamped with the scheduler's
//! clock. Reachable from the CLI as well (module-facing, but harmless: it only adds lines).
//!
//! One store write per call (the writer's group commit, like the engine's writes); an
//! unknown execution is `not_found` and nothing is written. Followers are woken after the
//! write commits. Not audited: log lines are data, not a change to a task.

use std::sync::Arc;

use scheduler_api::logs::{AppendLogsParams, AppendedLogs};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::store_error;
use crate::module::Scheduler;
use crate::store::LogBatch;
use crate::task::ExecutionId;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: AppendLogsParams,
    _call: Call<'static>,
) -> Result<AppendedLogs, CommandError> {
    if params.lines.is_empty() {
        return Ok(AppendedLogs { appended: 0 });
    }
    let batch = LogBatch {
        execution_id: ExecutionId(params.execution_id),
        at: module.clock.now(),
        lines: params.lines.into_iter().map(|line| (line.stream, line.line)).collect(),
    };
    let appended = module.store.append_logs(batch).await.map_err(store_error)?;
    module.logs_changed();
    Ok(AppendedLogs { appended })
}
