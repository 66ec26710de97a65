//! The schedule language of the scheduler module.
//!
//! One type, [`Schedule`], covers every schedule a user can write (cron, interval, once,
//! manual), and one operation matters: [`Schedule::next_after`], the next fire time strictly
//! after an instant, in the schedule's time zone.
//!
//! This crate does no IO and knows nothing about tasks, stores or the bus. Parsing is total:
//! any string gives a [`Schedule`] or a [`ScheduleError`] whose message names the rule, never
//! a panic.
//!
//! ```
//! use scheduler_schedule::{Schedule, ScheduleOptions, Timestamp};
//!
//! let anchor: Timestamp = "2027-03-13T12:00:00Z".parse()?;
//! let options = ScheduleOptions::new(anchor).with_timezone("America/New_York");
//! let schedule = Schedule::parse("daily 02:30", &options)?;
//! assert_eq!(schedule.expression(), "30 2 * * *");
//! // 2027-03-14 02:30 does not exist in New York: it fires once, at 03:00 EDT.
//! assert_eq!(schedule.next_after(anchor), Some("2027-03-14T07:00:00Z".parse()?));
//! let explanation = schedule.explain(anchor);
//! assert_eq!(explanation.summary, "at 02:30 every day in America/New_York");
//! assert_eq!(
//!     explanation.notes[0],
//!     "2027-03-14 02:30 does not exist in America/New_York (clocks go from 02:00 to 03:00), fires at 03:00",
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The language
//!
//! | Kind | Examples | Stored [`expression`](Schedule::expression) |
//! |---|---|---|
//! | cron | `0 2 * * *`, `*/15 9-17 * * mon-fri`, `@daily` | the text, lowercased, single spaces |
//! | interval | `30s`, `5m`, `2h`, `1d`, `1h30m`, `90 minutes` | canonical `1h30m` |
//! | once | `2027-01-05T09:30:00Z`, `2027-01-05 09:30`, `now` | an RFC 3339 instant |
//! | manual | `manual` | `manual` |
//! | preset | `daily 02:30`, `weekdays 09:00`, `weekly mon 09:00`, `monthly 31 23:00`, `every 15m` | the cron or interval it stands for |
//!
//! Without a forced [`ScheduleOptions::kind`] the kind is inferred: `manual`, `now`, a preset
//! keyword, a macro (`@...`), a date (`YYYY-...`), an interval, then cron. A bare number
//! (`5`) is refused as ambiguous.
//!
//! ## Cron
//!
//! Exactly 5 fields: minute (0-59), hour (0-23), day-of-month (1-31), month (1-12 or
//! `jan`-`dec`), day-of-week (0-7 or `sun`-`sat`; 0 and 7 are both Sunday, and `sun` closing a
//! range means 7, so `fri-sun` works). Each field is a list of items; an item is `*`, `N`,
//! `A-B`, `*/S` or `A-B/S`. Names are three letters, any case. Seconds and year fields
//! (6 or 7 fields) are refused: the product fires at minute precision. Quartz `?`, `W` and
//! `#` are refused. One extension: `L` in day-of-month is the last day of the month.
//!
//! Macros: `@yearly` = `@annually` = `0 0 1 1 *`, `@monthly` = `0 0 1 * *`,
//! `@weekly` = `0 0 * * 0`, `@daily` = `@midnight` = `0 0 * * *`, `@hourly` = `0 * * * *`.
//!
//! Day-of-month and day-of-week follow Vixie cron: when both fields are restricted (neither
//! starts with `*`) a day matches if it matches **either** (`0 0 1,15 * mon` fires on the 1st,
//! the 15th and every Monday); when either starts with `*` a day must match **both**
//! (`0 0 */2 * mon` fires on odd days that are Mondays, as in Vixie cron).
//!
//! A cron schedule may be a union of up to 8 expressions joined by `;`; it fires when any of
//! them does, once per instant. Monthly presets on the 29th and 30th use this.
//!
//! Expressions that can never fire (`0 0 30 2 *`) are refused at parse time.
//!
//! ## Time zones and DST
//!
//! Cron schedules are read in their IANA time zone ([`ScheduleOptions::timezone`], UTC when
//! `None`). The rules are the ones Vixie/ISC cron users expect. A cron expression whose
//! minute and hour fields contain no `*` and no step is **wall-clock** (`30 2 * * *`,
//! `0 9,17 * * 1-5`); otherwise it **follows elapsed time** (`*/30 * * * *`, `0 * * * *`,
//! `0 */2 * * *`).
//!
//! Spring forward (America/New_York, 2027-03-14, 02:00 EST becomes 03:00 EDT):
//!
//! ```text
//! instant        06:00Z  06:30Z  07:00Z  07:30Z
//! wall clock     01:00   01:30   03:00   03:30     (02:00-02:59 never happens)
//!                EST     EST     EDT     EDT
//! 30 2 * * *                     ^                 once, at the first instant after the gap
//! */30 * * * *   ^       ^       ^       ^         02:00 and 02:30 are skipped
//! ```
//!
//! Fall back (America/New_York, 2027-11-07, 02:00 EDT becomes 01:00 EST):
//!
//! ```text
//! instant        05:00Z  05:30Z  06:00Z  06:30Z  07:00Z
//! wall clock     01:00   01:30   01:00   01:30   02:00
//!                EDT     EDT     EST     EST     EST
//! 30 1 * * *             ^                               once, at the first 01:30
//! */30 * * * *   ^       ^       ^       ^       ^       both passes of the repeated hour
//! ```
//!
//! - A wall-clock time that does not exist (spring forward) fires once, at the first instant
//!   after the gap (03:00 above; 02:30 in Australia/Lord_Howe, whose gap is 30 minutes).
//!   Several such times in one gap fire once together.
//! - A wall-clock time that happens twice (fall back) fires once, at its first occurrence.
//! - An elapsed-time schedule fires at every instant whose wall clock matches: in both
//!   passes of a repeated hour, and not at all in a skipped one.
//! - Intervals are absolute durations counted from the anchor and ignore DST and zones.
//! - A local one-off time follows the wall-clock rule.
//!
//! croner's own zoned search does this for single fixed times, but treats lists
//! (`30 1,13 * * *`) as interval jobs, firing them twice on fall-back days and dropping them
//! on spring-forward days. So croner only searches wall-clock time here, and the zone rules
//! live in this crate.
//!
//! ## Month ends, leap years, far future
//!
//! A cron day-of-month that a month lacks is skipped in that month (`0 0 31 * *` fires in
//! the seven long months; `0 0 29 2 *` in leap years only). Monthly presets instead fire on
//! the last day of short months (see [`Preset`]). `L` is the last day of each month.
//!
//! Cron fire times are searched from instants before the year 5000 (croner's search limit;
//! `5000-01-01T00:00` itself can still be returned). Asked from the year 5000 on,
//! [`Schedule::next_after`] returns `None` for a cron schedule, as it does for every kind
//! past jiff's range (year 9999). Nothing panics near those limits.

mod cron;
mod error;
mod explain;
mod interval;
mod once;
mod preset;
mod zone;

use std::time::Duration;

// Re-exports. Consider semver implications carefully.
pub use error::{ScheduleError, ScheduleErrorKind};
pub use explain::Explanation;
pub use jiff::Timestamp;
pub use jiff::civil::Weekday;
pub use preset::{MonthDay, Preset, TimeOfDay};

use jiff::tz::TimeZone;

use cron::CronSchedule;

/// The longest schedule text accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 1024;

/// Reads an RFC 3339 / RFC 9557 instant with an offset (`2027-03-13T00:00:00Z`,
/// `2027-03-13T00:00:00-05:00`) under the rules of one-off times: the offset within
/// ±18:00 and the instant within the supported range. `None` when the text carries no
/// offset; an error (kind [`ScheduleErrorKind::Once`]) states the rule it breaks.
pub fn parse_instant(text: &str) -> Option<Result<Timestamp, ScheduleError>> {
    once::offset_instant(text.trim())
        .map(|instant| instant.map_err(|message| ScheduleError::new(ScheduleErrorKind::Once, message)))
}

/// The four kinds of schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// A 5-field cron expression or a macro such as `@daily`.
    Cron,
    /// A fixed duration such as `5m`, anchored to the task's start.
    Interval,
    /// A single instant.
    Once,
    /// Never fires by itself.
    Manual,
}

impl ScheduleKind {
    /// The name used in storage and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleKind::Cron => "cron",
            ScheduleKind::Interval => "interval",
            ScheduleKind::Once => "once",
            ScheduleKind::Manual => "manual",
        }
    }

    /// Parses the storage name back.
    pub fn from_name(name: &str) -> Option<ScheduleKind> {
        Some(match name {
            "cron" => ScheduleKind::Cron,
            "interval" => ScheduleKind::Interval,
            "once" => ScheduleKind::Once,
            "manual" => ScheduleKind::Manual,
            _ => return None,
        })
    }
}

/// Options that parsing needs besides the text.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// IANA zone name; `None` means UTC.
    pub timezone: Option<String>,
    /// The instant intervals are anchored to and `now` resolves to.
    pub anchor: Timestamp,
    /// Forces a kind (`--once`); `None` infers it from the text.
    pub kind: Option<ScheduleKind>,
}

impl ScheduleOptions {
    /// UTC, kind inferred, anchored at `anchor`.
    pub fn new(anchor: Timestamp) -> ScheduleOptions {
        ScheduleOptions { timezone: None, anchor, kind: None }
    }

    /// The same options in another zone.
    pub fn with_timezone(mut self, timezone: impl Into<String>) -> ScheduleOptions {
        self.timezone = Some(timezone.into());
        self
    }

    /// The same options with a forced kind.
    pub fn with_kind(mut self, kind: ScheduleKind) -> ScheduleOptions {
        self.kind = Some(kind);
        self
    }
}

#[derive(Debug, Clone)]
enum Spec {
    Cron(Box<CronSchedule>),
    Interval { every: Duration, anchor: Timestamp },
    Once(Timestamp),
    Manual,
}

/// A parsed schedule with its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: Spec,
    // Invariant: parsing `expression` with the same options gives the same `spec`.
    expression: String,
    tz_name: String,
    tz: TimeZone,
}

/// What the text looks like before it is parsed for real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    Kind(ScheduleKind),
    Preset,
}

fn guess(text: &str) -> Result<Guess, ScheduleError> {
    let lower = text.to_ascii_lowercase();
    if lower == "manual" {
        return Ok(Guess::Kind(ScheduleKind::Manual));
    }
    if lower == "now" || once::looks_like_date(text) {
        return Ok(Guess::Kind(ScheduleKind::Once));
    }
    if Preset::is_preset_text(text) {
        return Ok(Guess::Preset);
    }
    if text.starts_with('@') || text.contains(';') || text.contains('*') {
        return Ok(Guess::Kind(ScheduleKind::Cron));
    }
    if interval::parse(text).is_ok() || looks_like_interval(text) {
        return Ok(Guess::Kind(ScheduleKind::Interval));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScheduleError::new(
            ScheduleErrorKind::Unrecognized,
            format!(
                "a bare number is ambiguous, got '{text}'; write '{text}m' for an interval or 5 cron fields such as '{text} * * * *'"
            ),
        ));
    }
    let cron_like = text.split_whitespace().count() <= 7
        && text.contains(|c: char| c.is_ascii_digit() || c == '*')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || " \t,-/*?#".contains(c));
    if cron_like {
        return Ok(Guess::Kind(ScheduleKind::Cron));
    }
    Err(ScheduleError::new(
        ScheduleErrorKind::Unrecognized,
        format!(
            "'{text}' is not a schedule; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')"
        ),
    ))
}

/// One word of digits followed by letters (`5x`, `1.5s`, `-5m`): meant as an interval.
fn looks_like_interval(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let digits = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let rest = &body[digits..];
    digits > 0
        && !rest.is_empty()
        && !text.contains(char::is_whitespace)
        && rest.bytes().all(|b| b.is_ascii_alphabetic())
}

fn resolve_zone(name: Option<&str>) -> Result<(String, TimeZone), ScheduleError> {
    let name = name.unwrap_or("UTC");
    let tz = TimeZone::get(name).map_err(|_| {
        ScheduleError::new(
            ScheduleErrorKind::UnknownTimeZone,
            format!(
                "unknown time zone '{name}'; use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
            ),
        )
    })?;
    let canonical = tz.iana_name().unwrap_or(name).to_owned();
    Ok((canonical, tz))
}

fn kind_mismatch(text: &str, found: ScheduleKind, wanted: ScheduleKind) -> ScheduleError {
    let article = |kind: ScheduleKind| match kind {
        ScheduleKind::Interval => "an",
        ScheduleKind::Cron | ScheduleKind::Once | ScheduleKind::Manual => "a",
    };
    ScheduleError::new(
        ScheduleErrorKind::KindMismatch,
        format!(
            "'{text}' is {} {} schedule, but {} {} schedule was requested",
            article(found),
            found.as_str(),
            article(wanted),
            wanted.as_str()
        ),
    )
}

impl Schedule {
    /// Parses user text into a schedule.
    pub fn parse(text: &str, options: &ScheduleOptions) -> Result<Schedule, ScheduleError> {
        let (tz_name, tz) = resolve_zone(options.timezone.as_deref())?;
        let text = text.trim();
        if text.len() > MAX_TEXT_LEN {
            return Err(ScheduleError::new(
                ScheduleErrorKind::Empty,
                format!("schedule is too long: {} bytes, at most {MAX_TEXT_LEN}", text.len()),
            ));
        }
        if options.kind == Some(ScheduleKind::Manual) {
            return Ok(Schedule::build(Spec::Manual, tz_name, tz));
        }
        if text.is_empty() {
            return Err(ScheduleError::new(
                ScheduleErrorKind::Empty,
                "schedule is empty; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')",
            ));
        }
        let guessed = match (guess(text), options.kind) {
            (Ok(guessed), _) => guessed,
            // A forced kind gets that kind's own, more precise, message.
            (Err(_), Some(kind)) => Guess::Kind(kind),
            (Err(error), None) => return Err(error),
        };
        let written = text;
        let (text, found) = match guessed {
            Guess::Preset => {
                let expression = Preset::parse(text)?.expression()?;
                let found = match guess(&expression)? {
                    Guess::Kind(kind) => kind,
                    Guess::Preset => ScheduleKind::Cron,
                };
                (expression, found)
            }
            Guess::Kind(kind) => (text.to_owned(), kind),
        };
        let kind = match options.kind {
            None => found,
            Some(wanted) if wanted == found => wanted,
            // `--once 10m`: once, ten minutes after the anchor.
            Some(ScheduleKind::Once) if found == ScheduleKind::Interval => ScheduleKind::Once,
            Some(wanted) => return Err(kind_mismatch(written, found, wanted)),
        };
        let spec = match kind {
            ScheduleKind::Manual => Spec::Manual,
            ScheduleKind::Once => {
                Spec::Once(once::parse(&text, &tz, options.anchor, options.kind == Some(ScheduleKind::Once))?)
            }
            ScheduleKind::Interval => Spec::Interval { every: interval::parse(&text)?, anchor: options.anchor },
            ScheduleKind::Cron => Spec::Cron(Box::new(CronSchedule::parse(&text)?)),
        };
        Ok(Schedule::build(spec, tz_name, tz))
    }

    /// Builds the schedule a preset stands for; its expression is the canonical cron or
    /// interval text. A forced kind in `options` must match.
    pub fn from_preset(preset: &Preset, options: &ScheduleOptions) -> Result<Schedule, ScheduleError> {
        Schedule::parse(&preset.expression()?, options)
    }

    fn build(spec: Spec, tz_name: String, tz: TimeZone) -> Schedule {
        let expression = match &spec {
            Spec::Cron(cron) => cron.text().to_owned(),
            Spec::Interval { every, .. } => interval::format(*every),
            Spec::Once(at) => at.to_string(),
            Spec::Manual => "manual".to_owned(),
        };
        Schedule { spec, expression, tz_name, tz }
    }

    /// The kind of this schedule.
    pub fn kind(&self) -> ScheduleKind {
        match self.spec {
            Spec::Cron(_) => ScheduleKind::Cron,
            Spec::Interval { .. } => ScheduleKind::Interval,
            Spec::Once(_) => ScheduleKind::Once,
            Spec::Manual => ScheduleKind::Manual,
        }
    }

    /// The text to store; parsing it again with the same options gives the same schedule.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The IANA name of the schedule's time zone.
    pub fn timezone(&self) -> &str {
        &self.tz_name
    }

    /// The next fire time strictly after `after`, or `None` when it never fires again.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.spec {
            Spec::Manual => None,
            Spec::Once(at) => (*at > after).then_some(*at),
            Spec::Interval { every, anchor } => interval::next_after(*every, *anchor, after),
            Spec::Cron(cron) => cron.next_after(&self.tz, after),
        }
    }

    /// Up to `n` fire times after `after`, in order; fewer when the schedule ends.
    pub fn next_n(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while out.len() < n {
            let Some(next) = self.next_after(cursor) else {
                break;
            };
            out.push(next);
            cursor = next;
        }
        out
    }

    /// When the schedule fires, in words, with notes on clock changes in the coming year.
    pub fn explain(&self, after: Timestamp) -> Explanation {
        let next = self.next_after(after);
        let tz_name = &self.tz_name;
        let mut notes = Vec::new();
        let summary = match &self.spec {
            Spec::Manual => "never by itself; only when run by hand".to_owned(),
            Spec::Once(at) => {
                if *at <= after {
                    notes.push("already past, never fires again".to_owned());
                }
                let local = at.to_zoned(self.tz.clone());
                format!("once at {} in {tz_name} ({at})", local.strftime("%Y-%m-%d %H:%M:%S"))
            }
            Spec::Interval { every, anchor } => format!(
                "every {} counted from {anchor} (exact elapsed time; clock changes do not move it)",
                interval::format(*every)
            ),
            Spec::Cron(cron) => {
                notes = explain::cron_notes(cron, &self.tz, tz_name, after);
                let parts: Vec<String> = cron.parts().iter().map(explain::describe_part).collect();
                format!("{} in {tz_name}", parts.join(", and "))
            }
        };
        Explanation { summary, notes, next }
    }
}
