//! Retry and backoff: whether a failed attempt is retried, and after how long.
//!
//! A failure is retried while the attempt number is at most the task's `retries` and the
//! failure is retryable (an unknown command, a cancellation, a permanent error code and a
//! failure its handler calls permanent are not). The delay is the task's base delay, fixed
//! or doubled per attempt (`exponential`, capped by `retryDelayMax`, never below the base),
//! optionally with "equal jitter": drawn uniformly from `[delay/2, delay]`; a handler's
//! `Retry-After` advice is a floor under it (applied where the retry row is written). The
//! random draw is a parameter ([`random`] in production), so tests pick it.

use std::time::Duration;

use crate::task::BackoffKind;

/// How a task backs off between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's delay.
    pub base: Duration,
    /// Fixed or exponential.
    pub kind: BackoffKind,
    /// The exponential delay's cap (config `retryDelayMax`).
    pub cap: Duration,
    /// Equal jitter on or off (config `retryJitter`).
    pub jitter: bool,
}

/// The attempt number of the retry that follows failed attempt `attempt`, or `None` when
/// there is none: the outcome was not a failure, the failure is not retryable, or the
/// task's retries are spent.
pub fn next_attempt(failure: bool, retryable: bool, attempt: u32, retries: u32) -> Option<u32> {
    (failure && retryable && attempt <= retries).then(|| attempt.saturating_add(1))
}

/// The delay before retrying after failed attempt number `attempt` (1-based). With jitter,
/// `pick(spread)` draws the extra milliseconds in `0..=spread` on top of half the delay.
pub fn delay(backoff: &Backoff, attempt: u32, pick: impl FnOnce(u64) -> u64) -> Duration {
    let delay = match backoff.kind {
        BackoffKind::Fixed => backoff.base,
        BackoffKind::Exponential => {
            let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
            backoff.base.saturating_mul(factor).min(backoff.cap.max(backoff.base))
        }
    };
    if backoff.jitter && !delay.is_zero() {
        let half = delay / 2;
        let spread = u64::try_from((delay - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(pick(spread).min(spread))
    } else {
        delay
    }
}

/// The production draw: uniform in `0..=spread`.
pub fn random(spread: u64) -> u64 {
    rand::random_range(0..=spread)
}
