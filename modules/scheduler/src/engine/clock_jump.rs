//! Backward wall-clock jumps: detected by comparing the wall clock with tokio's monotonic
//! clock between two wakes of the claim loop, logged, and answered by recomputing next fire
//! times from the new wall clock.
//!
//! Why it matters: `next_run_at` is a wall-clock instant. Set the clock back one hour and
//! every stored next run is an hour ahead of the new wall clock: without this, a minute task
//! is silent for the hour. (A forward jump needs nothing here: occurrences then look late
//! and follow the misfire policy, as after downtime.)
//!
//! Detection: at each wake the claim loop compares wall time elapsed since the previous wake
//! with monotonic time elapsed. When wall time ran more than [`BACKWARD_JUMP_THRESHOLD`]
//! behind, the clock went back by the difference. The loop wakes at least every
//! `tickInterval`, so a jump is seen within a tick. A jump while the host was down cannot be
//! seen (there is no monotonic reference across restarts).
//!
//! What follows a jump of `J` (one store transaction, [`crate::store::Store::rebase_clock`], then the
//! executions claimed ahead are moved back by `J` so they still start on time):
//!
//! ```text
//!  wall clock:  10:00 ─ 10:01 ─ ... ─ 11:00 ─ 11:00:30 ╮ set back 1 h
//!                                                      ╰▶ 10:00:30 ─ 10:01 ─ 10:02 ─ ... ─ 11:01
//!  epoch 0:       ✓       ✓            ✓                              (10:01 ... 11:00 already fired)
//!  minute task (period ≤ J):                                          ✓ e1    ✓ e1         ✓ e1
//!  daily 10:30 (period > J, fired at 10:30 in epoch 0):               skipped: next is tomorrow 10:30
//!  next_run_at before the fix:                           11:01 (silent for an hour)
//! ```
//!
//! The rule, and why:
//! - Each jump opens a *clock epoch*. The occurrence identity, and its unique index, is
//!   (task, scheduled_for, attempt, clock_epoch): the minute task fires 10:01 again after the
//!   jump as occurrence (10:01, epoch 1), once only, however many engines or restarts; the
//!   (10:01, epoch 0) row stays as it was. Without the epoch, the re-lived instants collide
//!   with the rows already written and are silently not run — the same hour of silence.
//! - A task whose period is longer than the jump re-lives at most one occurrence; when that
//!   instant already fired, it is skipped (a daily backup does not run twice because the
//!   clock was corrected by an hour). A task that fires at least once per `J` keeps firing at
//!   the new wall clock's instants: for it, silence for `J` is the failure. This is the
//!   distinction classic cron draws between "wildcard" and "fixed-time" jobs.
//! - Next runs only move earlier, never later; once tasks keep their instant (a wall-clock
//!   time), manual tasks have none.
//! - Queued executions (retries, backlog) due later are due `J` earlier: a retry delay is
//!   elapsed time.
//! - A running execution is left alone: an occurrence that is running while the clock goes
//!   back still counts for its overlap policy.
//!
//! Sleeping: the claim loop never sleeps longer than `tickInterval`, and the dispatcher sleeps
//! until the earliest execution claimed ahead, which is re-keyed here; so no timer waits for
//! the length of the jump.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::{Shared, lock};
use crate::store::ClockJump;

/// How far wall time may fall behind monotonic time between two wakes before it counts as
/// the clock being set back. NTP slews by at most 0.5 ms per second, so anything this large
/// is a step; a step smaller than this only delays the next fire by as much.
pub(super) const BACKWARD_JUMP_THRESHOLD: Duration = Duration::from_secs(2);

/// Compares the wall clock with the monotonic clock between wakes.
pub(super) struct ClockWatch {
    wall: Timestamp,
    monotonic: tokio::time::Instant,
    // Invariant: a jump seen but not yet rebased in the store (the rebase failed); added to
    // the next jump and retried at the next wake.
    unrebased: Duration,
}

impl ClockWatch {
    pub(super) fn new(wall: Timestamp) -> ClockWatch {
        ClockWatch { wall, monotonic: tokio::time::Instant::now(), unrebased: Duration::ZERO }
    }

    /// How far the wall clock went back since the last call, if beyond the threshold.
    fn went_back(&mut self, wall: Timestamp) -> Option<Duration> {
        let monotonic = tokio::time::Instant::now();
        let wall_elapsed = wall.duration_since(self.wall);
        let monotonic_elapsed = SignedDuration::try_from(monotonic.saturating_duration_since(self.monotonic))
            .unwrap_or(SignedDuration::MAX);
        self.wall = wall;
        self.monotonic = monotonic;
        let behind = monotonic_elapsed.saturating_sub(wall_elapsed);
        let threshold = SignedDuration::try_from(BACKWARD_JUMP_THRESHOLD).unwrap_or(SignedDuration::MAX);
        (behind > threshold).then(|| Duration::try_from(behind).unwrap_or(Duration::MAX))
    }

    /// Called at each wake of the claim loop, before it claims: on a backward jump (or a
    /// pending one), rebases the store and the executions claimed ahead on the new clock.
    pub(super) async fn check(&mut self, shared: &Arc<Shared>) {
        let now = shared.clock.now();
        if let Some(back) = self.went_back(now) {
            tracing::warn!(
                jump_ms = u64::try_from(back.as_millis()).unwrap_or(u64::MAX),
                now = %now,
                "The wall clock went back; recomputing next fire times from the new time."
            );
            move_pending_back(shared, back);
            self.unrebased = self.unrebased.saturating_add(back);
        }
        if self.unrebased.is_zero() {
            return;
        }
        let jump = ClockJump { now, back: self.unrebased, node_id: shared.config.node_id.clone() };
        match shared.store.rebase_clock(jump).await {
            Ok(rebased) => {
                tracing::warn!(
                    jump_ms = u64::try_from(self.unrebased.as_millis()).unwrap_or(u64::MAX),
                    epoch = rebased.epoch,
                    tasks = rebased.tasks,
                    queued = rebased.queued,
                    "Next fire times recomputed after the wall clock went back."
                );
                self.unrebased = Duration::ZERO;
            }
            Err(error) => {
                tracing::warn!(%error, "Recomputing next fire times after a clock jump failed; retrying at the next tick.");
            }
        }
    }
}

/// Moves executions claimed ahead (waiting in the dispatcher for their instant) back by the
/// jump, so they start after the same elapsed time rather than `back` later.
fn move_pending_back(shared: &Shared, back: Duration) {
    let back = SignedDuration::try_from(back).unwrap_or(SignedDuration::MAX);
    let mut pending = lock(&shared.pending);
    let waiting = std::mem::take(&mut *pending);
    for ((at, id), prepared) in waiting {
        let moved = at.checked_sub(back).unwrap_or(at);
        pending.insert((moved, id), prepared);
    }
    drop(pending);
    shared.pending_changed.notify_one();
}
