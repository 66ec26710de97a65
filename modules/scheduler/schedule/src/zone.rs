//! Turning a wall-clock time in a zone into instants, under the two DST rules of this crate.
//!
//! - [`wall_clock_instant`]: the rule for fixed wall-clock schedules and local one-off times.
//!   A time in a fold (it happens twice) resolves to its first occurrence; a time in a gap
//!   (it never happens) resolves to the first instant after the gap.
//! - [`elapsed_instants`]: the rule for schedules that follow elapsed time. A time in a fold
//!   resolves to both occurrences; a time in a gap resolves to nothing.
//!
//! Invariant: both mappings are monotone: a later wall-clock time never resolves to an
//! earlier first instant. The search in `cron.rs` relies on this to stop early.
//!
//! This file knows nothing about cron fields.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// The instants a wall-clock time names under the elapsed-time rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instants {
    /// The time is in a gap (or out of jiff's range): it never happens.
    None,
    /// The time happens once.
    One(Timestamp),
    /// The time is in a fold: it happens twice, `first < second`.
    Two(Timestamp, Timestamp),
}

/// The first instant at or after which `civil` is due under the wall-clock rule, or `None` when
/// the instant would be outside jiff's range.
pub(crate) fn wall_clock_instant(tz: &TimeZone, civil: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(civil).ok(),
        // The earlier occurrence carries the offset in force before the transition.
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(civil).ok(),
        AmbiguousOffset::Gap { after, .. } => gap_end(tz, civil, after),
    }
}

/// The instants `civil` names under the elapsed-time rule.
pub(crate) fn elapsed_instants(tz: &TimeZone, civil: DateTime) -> Instants {
    match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => match offset.to_timestamp(civil) {
            Ok(at) => Instants::One(at),
            Err(_) => Instants::None,
        },
        AmbiguousOffset::Fold { before, after } => match (before.to_timestamp(civil), after.to_timestamp(civil)) {
            (Ok(first), Ok(second)) => Instants::Two(first, second),
            (Ok(only), Err(_)) | (Err(_), Ok(only)) => Instants::One(only),
            (Err(_), Err(_)) => Instants::None,
        },
        AmbiguousOffset::Gap { .. } => Instants::None,
    }
}

/// The transition instant that ends the gap holding `civil`: the first instant after the gap.
///
/// `after` is the offset in force after the gap. Read with it, `civil` names an instant
/// before the transition, so the next transition from there is the one that opened the gap.
pub(crate) fn gap_end(tz: &TimeZone, civil: DateTime, after: Offset) -> Option<Timestamp> {
    let before_gap = after.to_timestamp(civil).ok()?;
    tz.following(before_gap).next().map(|transition| transition.timestamp())
}

/// The smallest UTC offset in force from `at` until two days later.
///
/// A wall-clock time read with this offset is early enough that no occurrence after `at` of an
/// earlier wall-clock time is missed, even when a fold starts within those two days.
pub(crate) fn smallest_offset_soon(tz: &TimeZone, at: Timestamp) -> Offset {
    let mut smallest = tz.to_offset(at);
    let horizon = at.as_second().saturating_add(2 * 86_400);
    for transition in tz.following(at) {
        if transition.timestamp().as_second() > horizon {
            break;
        }
        if transition.offset() < smallest {
            smallest = transition.offset();
        }
    }
    smallest
}
