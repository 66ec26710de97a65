//! Interval schedules: an exact duration, counted from an anchor instant.
//!
//! Intervals are absolute durations: `1d` is exactly 86,400 seconds and ignores DST and the
//! time zone. They do not drift: the fire times are `anchor + k * every` for `k >= 1`,
//! whatever instant the caller asks from.
//!
//! Invariants: `every` is a whole number of seconds, at least 1 s and at most
//! [`MAX_INTERVAL_SECS`]. The canonical text (`1h30m`) re-parses to the same duration.
//!
//! Calendar units (`month`, `M`, `year`, `y`) are refused: their length varies, and humantime
//! would silently turn them into 30.44 and 365.25 days.

use std::time::Duration;

use jiff::Timestamp;

use crate::error::{ScheduleError, ScheduleErrorKind};

/// The longest interval accepted: 100 years of 365.25 days.
pub(crate) const MAX_INTERVAL_SECS: u64 = 36_525 * 86_400;

/// Units humantime reads as calendar months or years.
const CALENDAR_UNITS: [&str; 8] = ["months", "month", "M", "years", "year", "yr", "yrs", "y"];

/// Parses `30s`, `5m`, `2h`, `1d`, `1w`, `1h30m`, `1h 30m`, `90 minutes` into a duration.
pub(crate) fn parse(text: &str) -> Result<Duration, ScheduleError> {
    let error = |message: String| ScheduleError::new(ScheduleErrorKind::Interval, message);
    let text = text.trim();
    if text.starts_with('-') {
        return Err(error(format!("interval must be positive, got '{text}'; write e.g. '5m'")));
    }
    for unit in text.split(|c: char| !c.is_ascii_alphabetic()).filter(|word| !word.is_empty()) {
        if CALENDAR_UNITS.contains(&unit) {
            return Err(error(format!(
                "interval unit '{unit}' in '{text}' is a calendar month or year, whose length varies; intervals take s, m, h, d, w — use a cron expression or a 'monthly ...' preset for calendar dates"
            )));
        }
    }
    let every = humantime::parse_duration(text).map_err(|cause| {
        error(format!("invalid interval '{text}': {cause}; write e.g. '30s', '5m', '2h', '1d' or '1h30m'"))
    })?;
    if every.is_zero() {
        return Err(error(format!("interval must be greater than zero, got '{text}'")));
    }
    if every.subsec_nanos() != 0 {
        return Err(error(format!("interval must be a whole number of seconds, got '{text}'")));
    }
    if every.as_secs() > MAX_INTERVAL_SECS {
        return Err(error(format!("interval must be at most 36525d (100 years), got '{text}'")));
    }
    Ok(every)
}

/// The canonical text of a duration: days, hours, minutes, seconds, no spaces (`1d2h30m`).
pub(crate) fn format(every: Duration) -> String {
    let mut secs = every.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let count = secs / size;
        secs %= size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// The smallest `anchor + k * every` with `k >= 1` that is strictly after `after`.
pub(crate) fn next_after(every: Duration, anchor: Timestamp, after: Timestamp) -> Option<Timestamp> {
    let every_ns = i128::try_from(every.as_nanos()).ok()?;
    if every_ns <= 0 {
        return None;
    }
    let since = after.as_nanosecond() - anchor.as_nanosecond();
    let k = if since < 0 { 1 } else { since / every_ns + 1 };
    let at = anchor.as_nanosecond().checked_add(k.checked_mul(every_ns)?)?;
    Timestamp::from_nanosecond(at).ok()
}
