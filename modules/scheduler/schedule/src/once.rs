//! One-off schedules: a single instant.
//!
//! Accepted forms: `now` (the anchor), an RFC 3339 / RFC 9557 instant with an offset
//! (`2027-01-05T09:30:00Z`, `2027-01-05T09:30:00+01:00`), or a local date-time in the
//! schedule's zone (`2027-01-05 09:30`, `2027-01-05T09:30:15`). A local time follows the
//! wall-clock DST rule: in a fold it means the first occurrence, in a gap the first instant
//! after the gap. When the kind is forced to once, a duration (`10m`) means anchor + duration.
//!
//! A date alone is refused: the time of day must be written.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::error::{ScheduleError, ScheduleErrorKind};
use crate::zone;

const FORMS: &str = "write an RFC 3339 instant ('2027-01-05T09:30:00Z'), a local time in the schedule's zone ('2027-01-05 09:30') or 'now'";

/// Whether the text looks like a date, which makes it a one-off: `YYYY-` at the start, or
/// the extended `±YYYYYY-` that jiff writes for years outside 0-9999 (the stored form of
/// instants near jiff's limits).
pub(crate) fn looks_like_date(text: &str) -> bool {
    let year_then_dash = |bytes: &[u8], digits: usize| {
        bytes.len() > digits && bytes[..digits].iter().all(u8::is_ascii_digit) && bytes[digits] == b'-'
    };
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'+' | b'-') => year_then_dash(&bytes[1..], 6),
        _ => year_then_dash(bytes, 4),
    }
}

/// Parses a one-off time; `allow_duration` accepts `10m` as anchor + 10 minutes.
pub(crate) fn parse(
    text: &str,
    tz: &TimeZone,
    anchor: Timestamp,
    allow_duration: bool,
) -> Result<Timestamp, ScheduleError> {
    let error = |message: String| ScheduleError::new(ScheduleErrorKind::Once, message);
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(anchor);
    }
    if looks_like_date(text) {
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(at);
        }
        if !text.contains(['T', 't', ' ']) {
            return Err(error(format!(
                "one-off time '{text}' has a date but no time of day; write e.g. '{text} 09:30'"
            )));
        }
        return match text.parse::<DateTime>() {
            Ok(civil) => zone::wall_clock_instant(tz, civil)
                .ok_or_else(|| error(format!("one-off time '{text}' is outside the supported range of years"))),
            Err(cause) => Err(error(format!("invalid one-off time '{text}': {cause}; {FORMS}"))),
        };
    }
    if allow_duration && let Ok(delay) = crate::interval::parse(text) {
        let delay = jiff::SignedDuration::try_from(delay)
            .map_err(|cause| error(format!("delay '{text}' is too long: {cause}")))?;
        return anchor.checked_add(delay).map_err(|cause| error(format!("delay '{text}' is too long: {cause}")));
    }
    Err(error(format!("invalid one-off time '{text}'; {FORMS}")))
}
