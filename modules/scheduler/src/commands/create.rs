//! `scheduler:create`: validates every parameter, checks that the command is declared on
//! the bus, then writes the task with its audit row (`task.create`, one transaction: both
//! or neither) and publishes `task-created`. A refused request writes nothing.
//!
//! `--run-now` also queues one manual run at once (the schedule is kept); `--schedule now
//! --once` runs once, immediately. The engine is woken either way, so a task due before the
//! next tick is not late.

use std::sync::Arc;

use jiff::Timestamp;
use scheduler_api::tasks::{CreateTaskParams, TaskView, events};
use scheduler_schedule::ScheduleKind;
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::{Call, CommandError};

use super::{common, rules, view};
use crate::module::Scheduler;
use crate::store::{ChangeOutcome, TaskChange};
use crate::task::NewTask;

/// The task `params` describe, or the first rule they break.
fn new_task(module: &Scheduler, params: &CreateTaskParams, now: Timestamp) -> Result<NewTask, CommandError> {
    let name = rules::name(&params.name)?;
    let tenant = rules::tenant(params.tenant.as_deref())?;
    let data = rules::data(params.data.clone(), module.config.max_task_data_bytes)?;
    let target = rules::Target {
        command: params.command.as_deref(),
        exec: params.exec.as_deref(),
        url: params.url.as_deref(),
        method: params.method.as_deref(),
    };
    let (command, data) = rules::target(&target, data)?;
    let command = rules::command_name(&command)?;
    let data = match data {
        Some(data) => rules::data(Some(data), module.config.max_task_data_bytes)?,
        None => None,
    };
    let kind = params.once.then_some(ScheduleKind::Once);
    let schedule = rules::schedule(&params.schedule, params.timezone.clone(), kind, now)?;
    let mut task = NewTask::new(name, command, schedule, &module.config.task_defaults());
    task.tenant = tenant;
    if let Some(data) = data {
        task.data = data;
    }
    if let Some(retries) = params.retries {
        task.retries = rules::retries(retries)?;
    }
    if let Some(delay) = params.retry_delay_ms {
        task.retry_delay = rules::retry_delay(delay)?;
    }
    if let Some(timeout) = params.timeout_ms {
        task.timeout = rules::timeout(timeout)?;
    }
    if let Some(overlap) = params.overlap {
        task.overlap = view::overlap_from(overlap);
    }
    if let Some(misfire) = params.misfire {
        task.misfire = view::misfire_from(misfire);
    }
    Ok(task)
}

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: CreateTaskParams,
    call: Call<'static>,
) -> Result<TaskView, CommandError> {
    let now = module.clock.now();
    let task = new_task(&module, &params, now)?;
    rules::task_accepted(&module.host, &task.command, &task.data, &call).await?;
    let engine = module.engine().cloned();
    if params.run_now && engine.is_none() {
        return Err(CommandError::new(code::UNAVAILABLE, "the scheduler engine is not running; nothing was created"));
    }
    let note = common::audit_note(&module, &call, "task.create", &params);
    let task = match module.store.change_audited(TaskChange::Create(task), note, now).await {
        Ok(ChangeOutcome::Task(task)) => *task,
        Ok(_) => return Err(common::unexpected_change()),
        Err(error) => return Err(common::store_error(error)),
    };
    common::publish(&module, events::TASK_CREATED, &task);
    common::wake(&module);
    if params.run_now
        && let Some(engine) = engine
        && let Err(error) = engine.run_now(task.id.clone()).await
    {
        return Err(CommandError::failed(format!(
            "task '{}' was created, but its immediate run could not be queued: {error}",
            task.name
        )));
    }
    tracing::info!(task_id = %task.id, name = %task.name, caller = call.caller(), "Task created.");
    Ok(view::task_view(&task))
}
