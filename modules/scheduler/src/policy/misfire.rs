//! Misfire: what a task does when its occurrence is older than the misfire grace (the
//! engine was down, or the clock jumped).
//!
//! ```text
//!   o1   o2   o3   o4 ........ now - grace ... now
//!   skip:     one skipped row (at the last, o4) records o1..o4; a once task completes
//!   run_once: o4 runs (trigger catch-up)
//!   run_all:  the newest `run_all_limit` run in order (the first now, the rest queued);
//!             one skipped row (at o1) records the older ones dropped
//! ```
//!
//! The walk is bounded ([`MAX_MISFIRE_SCAN`] occurrences); beyond it the next run is the
//! schedule's next after now.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

use crate::task::{MisfirePolicy, TaskSchedule};

/// Most occurrences a misfire walk visits for one task before it jumps to now.
pub const MAX_MISFIRE_SCAN: u64 = 1_000_000;

/// True when an occurrence due at `due` is older than the grace allows.
pub fn is_missed(due: Timestamp, now: Timestamp, grace: Duration) -> bool {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    due.as_millisecond() < now.as_millisecond().saturating_sub(grace_ms)
}

/// What to do about the missed occurrences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One skipped row (trigger catch-up): its occurrence and error.
    pub skipped: Option<(Timestamp, String)>,
    /// The occurrence that starts now (subject to overlap), if any.
    pub start: Option<Timestamp>,
    /// Occurrences queued behind it, oldest first (`run_all`).
    pub queue: VecDeque<Timestamp>,
    /// The task's next run.
    pub next: Option<Timestamp>,
    /// A once task whose only occurrence was skipped is complete.
    pub completes: bool,
}

/// Walks the missed occurrences from `due` up to `now` and plans them by `policy`.
pub fn plan(
    policy: MisfirePolicy,
    once: bool,
    schedule: &TaskSchedule,
    due: Timestamp,
    now: Timestamp,
    run_all_limit: u32,
) -> Plan {
    let keep = match policy {
        MisfirePolicy::RunAll => run_all_limit.max(1) as usize,
        _ => 0,
    };
    let mut tail = VecDeque::with_capacity(keep.min(1_024));
    let mut missed: u64 = 0;
    let mut last = due;
    let mut cursor = Some(due);
    while let Some(at) = cursor {
        if at > now || missed >= MAX_MISFIRE_SCAN {
            break;
        }
        missed += 1;
        last = at;
        if keep > 0 {
            tail.push_back(at);
            if tail.len() > keep {
                tail.pop_front();
            }
        }
        cursor = schedule.next_after(at);
    }
    let next = if missed >= MAX_MISFIRE_SCAN { schedule.next_after(now) } else { cursor };
    let span = format!("{missed} occurrence(s) from {due} to {last} were missed");
    let mut plan = Plan { skipped: None, start: None, queue: VecDeque::new(), next, completes: false };
    match policy {
        MisfirePolicy::Skip => {
            plan.skipped = Some((last, format!("{span} (misfire policy skip)")));
            plan.completes = once;
        }
        MisfirePolicy::RunOnce => plan.start = Some(last),
        MisfirePolicy::RunAll => {
            let dropped = missed.saturating_sub(tail.len() as u64);
            if dropped > 0 {
                plan.skipped = Some((
                    due,
                    format!("{span}; the {dropped} oldest were dropped (misfire run_all bound {run_all_limit})"),
                ));
            }
            plan.start = tail.pop_front();
            plan.queue = tail;
        }
    }
    plan
}
