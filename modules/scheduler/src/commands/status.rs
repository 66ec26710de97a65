//! `scheduler:status`: answers only while the engine runs and the store answers a read, so
//! the host's `/readyz` (the manifest's `ready: status`) reports a scheduler that cannot
//! do its work. The read is one lookup by an id no task has: it costs the same with one
//! task or a million.

use std::sync::Arc;

use scheduler_api::runs::{StatusOutput, StatusParams};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CommandError};

use crate::module::Scheduler;
use crate::task::{TaskId, TaskKey};

pub(crate) async fn run(
    module: Arc<Scheduler>,
    _params: StatusParams,
    _call: Call<'static>,
) -> Result<StatusOutput, CommandError> {
    let unavailable = |why: String| CommandError::new(code::UNAVAILABLE, why);
    let engine = module.engine().ok_or_else(|| unavailable("the scheduler's engine has not started".to_owned()))?;
    if engine.is_stopping() {
        return Err(unavailable("the scheduler's engine is stopping".to_owned()));
    }
    module
        .store
        .get_task(TaskKey::Id(TaskId("status-probe".to_owned())))
        .await
        .map_err(|error| unavailable(format!("the scheduler's store does not answer: {error}")))?;
    Ok(StatusOutput {
        engine: "running".to_owned(),
        node_id: module.config.node_id.clone(),
        running: engine.running(),
        store: "reachable".to_owned(),
        now: engine.now().to_string(),
    })
}
