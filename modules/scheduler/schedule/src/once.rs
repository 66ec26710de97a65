//! One-off schedules: a single instant.
//!
//! Accepted forms: `now` (the anchor), an RFC 3339 / RFC 9557 instant with an offset
//! (`2027-01-05T09:30:00Z`, `2027-01-05T09:30:00+01:00`), or a local date-time in the
//! schedule's zone (`2027-01-05 09:30`, `2027-01-05T09:30:15`). A local time follows the
//! wall-clock DST rule: in a fold it means the first occurrence, in a gap the first instant
//! after the gap. When the kind is forced to once, a duration (`10m`) means anchor + duration.
//!
//! A date alone is refused: the time of day must be written.
//!
//! An instant with an offset follows two rules beyond its syntax, each stated when broken:
//! - the offset is at most 18 hours from UTC ([`MAX_OFFSET_SECONDS`]): every offset the
//!   time zone database has ever recorded is well inside it (local mean times reach about
//!   ±15:57), and ISO 8601 implementations such as `java.time` use the same bound, so
//!   `+25:00` is a typo, not a place;
//! - the instant lies in the range this crate computes with (jiff's: from
//!   `-009999-01-02T01:59:59Z` to `9999-12-30T22:00:00Z`), so `9999-12-31T23:59:59Z` is
//!   refused by saying so.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::fmt::temporal::Pieces;
use jiff::tz::{Offset, TimeZone};

use crate::error::{ScheduleError, ScheduleErrorKind};
use crate::zone;

const FORMS: &str = "write an RFC 3339 instant ('2027-01-05T09:30:00Z'), a local time in the schedule's zone ('2027-01-05 09:30') or 'now'";

/// The widest UTC offset an instant may carry, in seconds (18 hours).
pub(crate) const MAX_OFFSET_SECONDS: i32 = 18 * 3_600;

/// The latest instant accepted, as shown in messages (jiff's maximum, to the second).
const LATEST: &str = "9999-12-30T22:00:00Z";
/// The earliest instant accepted, as shown in messages.
const EARLIEST: &str = "-009999-01-02T01:59:59Z";

fn show_offset(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (hours, minutes, rest) = (abs / 3_600, abs / 60 % 60, abs % 60);
    if rest == 0 {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}:{rest:02}")
    }
}

/// Reads an RFC 3339 / RFC 9557 instant with an offset (`Z`, `+01:00`). `None` when the text
/// carries no offset (it may be a local time); otherwise the instant, or a message that
/// states the rule the text breaks.
pub(crate) fn offset_instant(text: &str) -> Option<Result<Timestamp, String>> {
    let pieces = Pieces::parse(text).ok()?;
    let offset = pieces.to_numeric_offset()?;
    if offset.seconds().abs() > MAX_OFFSET_SECONDS {
        return Some(Err(format!(
            "'{text}' has the UTC offset {}; an offset must be between -18:00 and +18:00",
            show_offset(offset)
        )));
    }
    let civil = pieces.date().to_datetime(pieces.time().unwrap_or(Time::midnight()));
    if offset.to_timestamp(civil).is_err() {
        return Some(Err(format!("'{text}' is out of range: an instant must be between {EARLIEST} and {LATEST}")));
    }
    Some(text.parse::<Timestamp>().map_err(|cause| format!("'{text}' is not a valid instant: {cause}")))
}

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
        if let Some(instant) = offset_instant(text) {
            return instant.map_err(|message| error(format!("one-off time {message}")));
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
