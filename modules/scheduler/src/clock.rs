//! The wall clock the engine and store read, injectable so tests can travel in time.
//!
//! The engine *sleeps* with `tokio::time` (so a paused tokio clock drives it) but *reads*
//! wall time through [`Clock`]. [`TestClock`] ties both together: its wall time is a fixed
//! base plus the tokio time elapsed since it was made, plus any [`TestClock::jump`].
//!
//! Nothing here reads `SystemTime` except [`SystemClock`].

use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock instant.
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one wall-clock read of the scheduler: everything else asks a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock for tests: `base + (tokio now - tokio start) + jumps`.
///
/// With `#[tokio::test(start_paused = true)]` its time only moves when tokio time moves
/// (auto-advance, `tokio::time::advance`) or when [`TestClock::jump`] simulates a wall-clock
/// jump that the monotonic clock does not see.
#[derive(Debug)]
pub struct TestClock {
    base: Timestamp,
    start: tokio::time::Instant,
    // Invariant: only ever added to; negative jumps are allowed (clock set back).
    offset: Mutex<SignedDuration>,
}

impl TestClock {
    /// A clock that reads `base` now and follows tokio time from here on.
    pub fn new(base: Timestamp) -> TestClock {
        TestClock { base, start: tokio::time::Instant::now(), offset: Mutex::new(SignedDuration::ZERO) }
    }

    /// A clock starting at an RFC 3339 instant, for tests.
    ///
    /// # Panics
    /// When `text` is not a valid instant; meant for literals in tests.
    pub fn at(text: &str) -> TestClock {
        #[allow(clippy::expect_used)]
        let base = text.parse().expect("a valid RFC 3339 instant");
        TestClock::new(base)
    }

    /// Moves wall time by `by` without moving tokio time (an NTP step, a suspended VM).
    pub fn jump(&self, by: Duration) {
        self.jump_signed(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX));
    }

    /// Moves wall time by a signed amount; negative moves the clock back.
    pub fn jump_signed(&self, by: SignedDuration) {
        let mut offset = self.offset.lock().unwrap_or_else(|poison| poison.into_inner());
        *offset = offset.saturating_add(by);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        let offset = *self.offset.lock().unwrap_or_else(|poison| poison.into_inner());
        let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
        self.base.saturating_add(elapsed.saturating_add(offset)).unwrap_or(self.base)
    }
}
