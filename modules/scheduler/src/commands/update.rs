//! `scheduler:update --id <id or name> [changes]`: the same rules as `scheduler:create` for
//! every field given, then one store update with its audit row (`task.update`, one
//! transaction) and `task-updated`. A refused request writes nothing.
//!
//! The schedule is rebuilt when `schedule`, `timezone` or `once` is given:
//! - the kind follows the new text (`5m` → `0 2 * * *` makes an interval task a cron task);
//!   `once` forces a once schedule, from the new text or the current one;
//! - a new text (or `once`) anchors intervals at now; a time-zone change alone keeps the
//!   anchor, so an interval keeps its phase;
//! - the store recomputes the next run from now (none while paused), and a completed once
//!   task with a new schedule becomes active again.
//!
//! `enabled` (`PUT {"enabled": false}` over HTTP) then pauses or resumes the task exactly as
//! `scheduler:pause`/`resume` do, with their own audit row and event. Every rule is checked
//! before anything is written, so a refused request changes nothing.
//!
//! A running execution is not disturbed: it ends as it started, and its outcome is recorded
//! against the updated task.

use std::sync::Arc;

use jiff::Timestamp;
use scheduler_api::tasks::{TaskSelection, TaskView, UpdateTaskParams, events};
use scheduler_schedule::ScheduleKind;
use systemprompt_module_sdk::{Call, CommandError};

use super::switch::{self, Switch};
use super::{common, rules, view};
use crate::module::Scheduler;
use crate::store::{ChangeOutcome, TaskChange};
use crate::task::{Task, TaskPatch, TaskStatus};

const CHANGES: &str =
    "name, schedule, command, data, timezone, retries, retry_delay_ms, timeout_ms, overlap, misfire, once or enabled";

/// The patch `params` describe for `task`, or the first rule they break.
/// `None` when only `enabled` is given (nothing but the switch to do).
fn patch(
    task: &Task,
    params: &UpdateTaskParams,
    max_data_bytes: usize,
    now: Timestamp,
) -> Result<Option<TaskPatch>, CommandError> {
    let mut patch = TaskPatch {
        name: params.name.as_deref().map(rules::name).transpose()?,
        command: params.command.as_deref().map(rules::command_name).transpose()?,
        data: match &params.data {
            None => None,
            Some(data) => Some(
                rules::data(Some(data.clone()), max_data_bytes)?
                    .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            ),
        },
        retries: params.retries.map(rules::retries).transpose()?,
        retry_delay: params.retry_delay_ms.map(rules::retry_delay).transpose()?,
        timeout: params.timeout_ms.map(rules::timeout).transpose()?,
        overlap: params.overlap.map(view::overlap_from),
        misfire: params.misfire.map(view::misfire_from),
        ..TaskPatch::default()
    };
    if params.schedule.is_some() || params.timezone.is_some() || params.once {
        let text = params.schedule.as_deref().unwrap_or(task.schedule.expression());
        let timezone = params.timezone.clone().unwrap_or_else(|| task.schedule.timezone().to_owned());
        let kind = match (params.once, &params.schedule) {
            (true, _) => Some(ScheduleKind::Once),
            (false, Some(_)) => None,
            (false, None) => Some(task.schedule.kind()),
        };
        let anchor = if params.schedule.is_some() || params.once { now } else { task.schedule.anchor() };
        patch.schedule = Some(rules::schedule(text, Some(timezone), kind, anchor)?);
    }
    let unchanged = patch.name.is_none()
        && patch.command.is_none()
        && patch.data.is_none()
        && patch.schedule.is_none()
        && patch.retries.is_none()
        && patch.retry_delay.is_none()
        && patch.timeout.is_none()
        && patch.overlap.is_none()
        && patch.misfire.is_none();
    match (unchanged, params.enabled) {
        (true, None) => Err(CommandError::invalid_params(format!("nothing to update: give at least one of {CHANGES}"))),
        (true, Some(_)) => Ok(None),
        (false, _) => Ok(Some(patch)),
    }
}

pub(crate) async fn run(
    module: Arc<Scheduler>,
    params: UpdateTaskParams,
    call: Call<'static>,
) -> Result<TaskView, CommandError> {
    let now = module.clock.now();
    let task = common::resolve(&module.store, "id", &params.id, params.tenant.as_deref()).await?;
    let Some(patch) = patch(&task, &params, module.config.max_task_data_bytes, now)? else {
        return enable(module, task, params.enabled.unwrap_or(true), call).await;
    };
    if patch.command.is_some() || patch.data.is_some() {
        let command = patch.command.as_ref().unwrap_or(&task.command);
        let data = patch.data.as_ref().unwrap_or(&task.data);
        rules::task_accepted(&module.host, command, data, &call).await?;
    }
    // A completed once task is enabled only by a new schedule (which makes it active).
    if params.enabled == Some(true) && task.status == TaskStatus::Completed && patch.schedule.is_none() {
        return Err(completed(&task));
    }
    let note = common::audit_note(&module, &call, "task.update", &params);
    let task = match module.store.change_audited(TaskChange::Update(task.id, patch), note, now).await {
        Ok(ChangeOutcome::Task(task)) => *task,
        Ok(_) => return Err(common::unexpected_change()),
        Err(error) => return Err(common::store_error(error)),
    };
    common::publish(&module, events::TASK_UPDATED, &task);
    common::wake(&module);
    tracing::info!(task_id = %task.id, name = %task.name, caller = call.caller(), "Task updated.");
    match params.enabled {
        Some(enabled) => enable(module, task, enabled, call).await,
        None => Ok(view::task_view(&task)),
    }
}

fn completed(task: &Task) -> CommandError {
    CommandError::conflict(format!(
        "task '{}' is completed (a once task that ran); give it a new schedule to enable it again",
        task.name
    ))
}

/// Pauses (`false`) or resumes (`true`) `task` as `scheduler:pause`/`resume` would, and
/// answers the task as it is then.
async fn enable(
    module: Arc<Scheduler>,
    task: Task,
    enabled: bool,
    call: Call<'static>,
) -> Result<TaskView, CommandError> {
    if enabled && task.status == TaskStatus::Completed {
        return Err(completed(&task));
    }
    let selection = TaskSelection { id: Some(task.id.0.clone()), tenant: Some(task.tenant.clone()) };
    let way = if enabled { Switch::Resume } else { Switch::Pause };
    let changed = switch::run(module.clone(), selection, call, way).await?;
    match changed.tasks.into_iter().next() {
        Some(view) => Ok(view),
        None => Ok(view::task_view(&task)),
    }
}
