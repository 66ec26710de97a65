//! `scheduler:get --id <id or name> [--tenant T]`: one task, or `not_found` naming what was
//! asked for.

use std::sync::Arc;

use scheduler_api::tasks::{TaskRef, TaskView};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::resolve;
use super::view;
use crate::module::Scheduler;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: TaskRef,
    _call: Call<'static>,
) -> Result<TaskView, CommandError> {
    let task = resolve(&module.store, "id", &params.id, params.tenant.as_deref()).await?;
    Ok(view::task_view(&task))
}
