//! Overlap: what a scheduled occurrence does while another run of its task is in the way.
//!
//! Under `allow` nothing is ever in the way (the running check is not even asked). Under
//! `skip` the occurrence is recorded `skipped`, naming what blocks it; under `queue` it
//! waits as a `queued` row, unless one already waits (then it is `skipped`: one waiting run
//! stands for any number). A once task has a single occurrence, so it always waits.
//!
//! Late occurrences under `skip`: when several occurrences came due within the misfire
//! grace before a claim could take them (a store that could not write for a few seconds),
//! running each would skip all but the first as overlapping it; instead the latest runs and
//! one skipped row records the others ([`coalesce_late`]).
//!
//! ```text
//!   due ─┬── o1 ── o2 ── o3 ──── now           (all within the grace)
//!        └ skipped row "2 occurrence(s) from o1 to o2 came due ..."; o3 runs
//! ```

use jiff::Timestamp;

use crate::task::{OverlapPolicy, TaskSchedule, Trigger};

/// Most occurrences a late-occurrence walk looks at.
const MAX_LATE_SCAN: u64 = 1_000_000;

/// Why an occurrence (or a manual run) was skipped; its [`SkipReason::message`] is the
/// execution row's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A retry of an earlier occurrence is queued or running (overlap `skip`).
    RetryInTheWay,
    /// A catch-up run of the misfire backlog is running (overlap `skip`).
    BacklogInTheWay,
    /// The previous run (scheduled or manual) is still running (overlap `skip`).
    PreviousRunning,
    /// A run already waits (overlap `queue`).
    AlreadyWaiting,
    /// A manual run under overlap `skip` while a run is running or waiting.
    ManualBusy,
}

impl SkipReason {
    /// The execution row's error text.
    pub fn message(self) -> &'static str {
        match self {
            SkipReason::RetryInTheWay => "a retry of an earlier occurrence is queued or running (overlap policy skip)",
            SkipReason::BacklogInTheWay => {
                "earlier occurrences are still queued or running (misfire backlog; overlap policy skip)"
            }
            SkipReason::PreviousRunning => "the previous run is still running (overlap policy skip)",
            SkipReason::AlreadyWaiting => "a run is already waiting (overlap policy queue)",
            SkipReason::ManualBusy => "a run is already running or waiting (overlap policy skip)",
        }
    }

    /// The reason naming what is running: a retry, a catch-up run of the backlog, or the
    /// previous run.
    pub fn blocked_by(running: Trigger) -> SkipReason {
        match running {
            Trigger::Retry => SkipReason::RetryInTheWay,
            Trigger::CatchUp => SkipReason::BacklogInTheWay,
            Trigger::Schedule | Trigger::Manual => SkipReason::PreviousRunning,
        }
    }
}

/// What an occurrence (or a manual run) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It runs now (a `running` row, or a claim ahead of its instant).
    Start,
    /// It waits as a `queued` row.
    Queue,
    /// It is recorded `skipped`.
    Skip(SkipReason),
}

/// True when the policy cares whether a run is in the way.
pub fn watches_running(overlap: OverlapPolicy) -> bool {
    overlap != OverlapPolicy::Allow
}

/// Decides a scheduled occurrence. `running` answers the trigger of a run in the way (if
/// any; asked only when the policy watches), `waiting` whether a run already waits (asked
/// only under `queue` with a run in the way).
pub fn admit<E>(
    overlap: OverlapPolicy,
    once: bool,
    running: impl FnOnce() -> Result<Option<Trigger>, E>,
    waiting: impl FnOnce() -> Result<bool, E>,
) -> Result<Admission, E> {
    if !watches_running(overlap) {
        return Ok(Admission::Start);
    }
    let Some(blocker) = running()? else {
        return Ok(Admission::Start);
    };
    if once {
        return Ok(Admission::Queue);
    }
    if overlap == OverlapPolicy::Skip {
        return Ok(Admission::Skip(SkipReason::blocked_by(blocker)));
    }
    Ok(if waiting()? { Admission::Skip(SkipReason::AlreadyWaiting) } else { Admission::Queue })
}

/// Whether an occurrence due after now (inside the claim horizon) is claimed now: only when
/// nothing is in the way, so overlap is decided at its instant by an ordinary claim.
pub fn may_claim_ahead<E>(
    overlap: OverlapPolicy,
    running: impl FnOnce() -> Result<Option<Trigger>, E>,
) -> Result<bool, E> {
    Ok(!watches_running(overlap) || running()?.is_none())
}

/// Whether a queued row (retry, queued overlap, manual run, backlog) may start now: not
/// while a run is in the way, unless the policy allows overlap.
pub fn may_start_queued<E>(
    overlap: OverlapPolicy,
    running: impl FnOnce() -> Result<Option<Trigger>, E>,
) -> Result<bool, E> {
    may_claim_ahead(overlap, running)
}

/// Occurrences that came due late but within the grace, see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Late {
    /// The occurrence that runs.
    pub run: Timestamp,
    /// The occurrence after it (the task's next run).
    pub next: Option<Timestamp>,
    /// The occurrences replaced by `run`, when there were any: the error of the one
    /// skipped row (written at the first of them, `due`).
    pub skipped: Option<String>,
}

/// Under overlap `skip` (not a once task), the latest occurrence due by `now` runs and the
/// ones before it are recorded by one skipped row; otherwise the due occurrence runs.
pub fn coalesce_late(
    overlap: OverlapPolicy,
    once: bool,
    schedule: &TaskSchedule,
    due: Timestamp,
    now: Timestamp,
) -> Late {
    let mut run = due;
    let mut next = schedule.next_after(due);
    let mut skipped = None;
    if overlap == OverlapPolicy::Skip && !once {
        let mut late: u64 = 0;
        let mut before = due;
        while let Some(later) = next {
            if later > now || late >= MAX_LATE_SCAN {
                break;
            }
            late += 1;
            before = run;
            run = later;
            next = schedule.next_after(run);
        }
        if late > 0 {
            skipped = Some(format!(
                "{late} occurrence(s) from {due} to {before} came due before they could be claimed \
                 (the store could not write, or the engine was held up); the latest, {run}, runs instead"
            ));
        }
    }
    Late { run, next, skipped }
}
