//! `scheduler:list [--status S] [--tenant T]`: tasks ordered by tenant, then name; every
//! tenant when none is given.

use std::sync::Arc;

use scheduler_api::tasks::{ListTasksParams, TaskView};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::store_error;
use super::{rules, view};
use crate::module::Scheduler;
use crate::store::TaskFilter;

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: ListTasksParams,
    _call: Call<'static>,
) -> Result<Vec<TaskView>, CommandError> {
    let tenant = rules::tenant_filter(params.tenant.as_deref())?;
    let filter = TaskFilter { tenant, status: params.status.map(view::status_from), limit: None };
    let tasks = module.store.list_tasks(filter).await.map_err(store_error)?;
    Ok(tasks.iter().map(view::task_view).collect())
}
