//! The one error type of the schedule language: [`ScheduleError`].
//!
//! Every refusal carries a [`ScheduleErrorKind`] (a stable code for programs) and a message
//! for people that names the field, the rule and the offending value, for example
//! `day-of-week must be 0-7, got 9 (field 5 of '0 2 * * 9')`. Messages have no trailing dot.
//!
//! All errors are permanent: the same text with the same options is refused the same way, so
//! retrying never helps; the user has to change the text or the time zone.

use std::fmt;

/// What kind of rule a schedule text broke. The [`code`](ScheduleErrorKind::code) is stable
/// and safe to match on in scripts and JSON output; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScheduleErrorKind {
    /// The text is empty or too long.
    ///
    /// ## Resolution
    /// Write a schedule: `0 2 * * *`, `5m`, `2027-01-05 09:30`, `now`, `manual` or `daily 02:30`.
    Empty,
    /// The time zone name is not an IANA name known to this machine.
    ///
    /// ## Resolution
    /// Use a name such as `Europe/Berlin`, `America/New_York` or `UTC`.
    UnknownTimeZone,
    /// The cron expression has the wrong shape (field count, unknown macro).
    ///
    /// ## Resolution
    /// Write 5 fields: minute hour day-of-month month day-of-week, or a macro like `@daily`.
    CronSyntax,
    /// One cron field breaks its rule (range, step, name).
    ///
    /// ## Resolution
    /// Follow the rule in the message; it names the field and its allowed values.
    CronField,
    /// The cron expression is well formed but no date ever matches it (`0 0 30 2 *`).
    ///
    /// ## Resolution
    /// Pick a day that exists in the chosen months, or use `L` for the last day of the month.
    NeverFires,
    /// The interval is not a positive exact duration.
    ///
    /// ## Resolution
    /// Write `30s`, `5m`, `2h`, `1d` or a combination such as `1h30m`.
    Interval,
    /// The one-off time cannot be read.
    ///
    /// ## Resolution
    /// Write an RFC 3339 instant (`2027-01-05T09:30:00Z`), a local time (`2027-01-05 09:30`)
    /// or `now`.
    Once,
    /// A preset (`daily 02:30`, `weekly mon 09:00`, ...) is incomplete or out of range.
    ///
    /// ## Resolution
    /// Follow the preset grammar in the crate documentation.
    Preset,
    /// The text is a valid schedule of another kind than the one requested.
    ///
    /// ## Resolution
    /// Drop the forced kind (for example `--once`) or write a schedule of that kind.
    KindMismatch,
    /// The text is not any kind of schedule.
    ///
    /// ## Resolution
    /// See [`ScheduleErrorKind::Empty`] for the accepted forms.
    Unrecognized,
}

impl ScheduleErrorKind {
    /// A stable, machine-readable code such as `schedule::cron_field`.
    pub fn code(self) -> &'static str {
        match self {
            ScheduleErrorKind::Empty => "schedule::empty",
            ScheduleErrorKind::UnknownTimeZone => "schedule::unknown_time_zone",
            ScheduleErrorKind::CronSyntax => "schedule::cron_syntax",
            ScheduleErrorKind::CronField => "schedule::cron_field",
            ScheduleErrorKind::NeverFires => "schedule::never_fires",
            ScheduleErrorKind::Interval => "schedule::interval",
            ScheduleErrorKind::Once => "schedule::once",
            ScheduleErrorKind::Preset => "schedule::preset",
            ScheduleErrorKind::KindMismatch => "schedule::kind_mismatch",
            ScheduleErrorKind::Unrecognized => "schedule::unrecognized",
        }
    }
}

impl fmt::Display for ScheduleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a schedule text was refused. The message states the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleError {
    kind: ScheduleErrorKind,
    message: String,
}

impl ScheduleError {
    pub(crate) fn new(kind: ScheduleErrorKind, message: impl Into<String>) -> ScheduleError {
        ScheduleError { kind, message: message.into() }
    }

    /// Which rule was broken.
    pub fn kind(&self) -> ScheduleErrorKind {
        self.kind
    }

    /// The message for people (the same text as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}
