//! Manual runs: what `scheduler:run` (a run request) becomes, and when queued work of a
//! paused task may start.
//!
//! A manual run is an explicit request: it runs even when the task is paused (the task
//! stays paused), and its retries follow it. A paused task's scheduled work (retries,
//! backlog) waits for the resume. Under overlap `allow` it always queues; otherwise, with
//! nothing running or waiting it queues, under `skip` it is skipped while a run is running
//! or waiting, and under `queue` it waits behind a running one unless one already waits.

use super::overlap::{Admission, SkipReason};
use crate::task::{Origin, OverlapPolicy, TaskStatus};

/// Decides a manual run request from whether a run is running and whether one is queued.
/// A manual run never starts inline: [`Admission::Queue`] means the engine starts it.
pub fn request(overlap: OverlapPolicy, running: bool, queued: bool) -> Admission {
    match overlap {
        OverlapPolicy::Allow => Admission::Queue,
        _ if !running && !queued => Admission::Queue,
        OverlapPolicy::Skip => Admission::Skip(SkipReason::ManualBusy),
        OverlapPolicy::Queue if queued => Admission::Skip(SkipReason::AlreadyWaiting),
        OverlapPolicy::Queue => Admission::Queue,
    }
}

/// Whether queued work of this origin may start given the task's status: a paused task's
/// scheduled work waits for the resume, a manual run does not.
pub fn may_start(status: TaskStatus, origin: Origin) -> bool {
    status != TaskStatus::Paused || origin == Origin::Manual
}
