//! Once tasks: a task with a single occurrence is `completed` when that occurrence is done.
//!
//! Done means its last attempt ended with no retry to follow (whatever the outcome), or the
//! occurrence was skipped as missed (misfire `skip`, see `misfire`). A manual run of a once
//! task does not complete it (the occurrence is still to come), and a completed task stays
//! completed.

use crate::task::{Origin, TaskStatus};

/// Whether an attempt's outcome completes the task.
pub fn completes(once: bool, origin: Origin, retried: bool, status: TaskStatus) -> bool {
    once && origin == Origin::Schedule && !retried && status != TaskStatus::Completed
}
