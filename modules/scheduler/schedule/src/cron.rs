//! Cron schedules: the 5-field grammar, its validation, and the next fire time in a zone.
//!
//! This file does its own field-level parsing so that every refusal names the field, the rule
//! and the value. It then hands croner a canonical numeric pattern and uses croner only to
//! search *wall-clock* (civil) time for the next matching minute. Mapping wall-clock times to
//! instants (the DST rules) is done here, with `zone.rs`, because croner's own rule differs
//! from Vixie cron for hour and minute lists: croner runs `30 1,13 * * *` twice on a fall-back
//! day and skips `30 2,14 * * *` on a spring-forward day.
//!
//! Invariants:
//! - A parsed [`CronSchedule`] can fire: a day-of-month that no chosen month has is refused at
//!   parse time, so the civil search never runs to croner's year limit on a valid schedule.
//! - Every field set is non-empty, and weekday 7 is stored as 0 (Sunday).
//! - `CronPart::text` re-parses to the same part.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::error::{ScheduleError, ScheduleErrorKind};
use crate::zone::{self, Instants};

/// The most `;`-separated expressions one cron schedule may hold.
pub(crate) const MAX_PARTS: usize = 8;

/// Upper bound on civil candidates examined for one `next_after`. The longest honest walk is
/// a wall-clock schedule matching every minute of a day-long fold (1,440 candidates); the bound
/// only guards against a bug turning into a hang.
const MAX_CANDIDATES: usize = 100_000;

const MONTH_NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The five cron fields, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [Field::Minute, Field::Hour, Field::DayOfMonth, Field::Month, Field::DayOfWeek];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn position(self) -> usize {
        match self {
            Field::Minute => 1,
            Field::Hour => 2,
            Field::DayOfMonth => 3,
            Field::Month => 4,
            Field::DayOfWeek => 5,
        }
    }

    /// The values a number may take (day-of-week allows 7 for Sunday).
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The range `*` stands for (day-of-week counts Sunday once, as 0).
    fn star_range(self) -> (u32, u32) {
        match self {
            Field::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &WEEKDAY_NAMES,
            _ => &[],
        }
    }
}

/// One parsed field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldSet {
    // Invariant: non-empty unless `last_day` is set; bit 7 is never set for day-of-week.
    bits: u64,
    /// `L` in day-of-month: the last day of the month.
    last_day: bool,
    /// The field contains `*` or a step: it follows elapsed time.
    elapsed: bool,
    /// The field starts with `*`; Vixie cron's test for an unrestricted day field.
    star: bool,
    /// The field text, ASCII-lowercased.
    text: String,
}

/// One 5-field cron expression (a macro is expanded to one).
#[derive(Debug, Clone)]
pub(crate) struct CronPart {
    /// The canonical text: the macro name or the lowercased fields joined by single spaces.
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    last_day: bool,
    months: u64,
    weekdays: u64,
    /// Vixie cron: when either day field starts with `*`, a day must match both fields;
    /// otherwise (both restricted) it must match either.
    days_and: bool,
    /// Neither minute nor hour contains `*` or a step: the part names fixed wall-clock times.
    wall_clock: bool,
    field_texts: [String; 5],
    cron: croner::Cron,
}

/// A cron schedule: one expression, or a union of up to [`MAX_PARTS`] separated by `;`.
#[derive(Debug, Clone)]
pub(crate) struct CronSchedule {
    // Invariant: non-empty.
    parts: Vec<CronPart>,
    text: String,
}

fn field_error(field: Field, whole: &str, message: impl std::fmt::Display) -> ScheduleError {
    ScheduleError::new(ScheduleErrorKind::CronField, format!("{message} (field {} of '{whole}')", field.position()))
}

impl CronSchedule {
    /// Parses one cron expression, a macro, or a `;`-separated union of them.
    pub(crate) fn parse(text: &str) -> Result<CronSchedule, ScheduleError> {
        let pieces: Vec<&str> = text.split(';').map(str::trim).collect();
        if pieces.len() > MAX_PARTS {
            return Err(ScheduleError::new(
                ScheduleErrorKind::CronSyntax,
                format!(
                    "a cron schedule joins at most {MAX_PARTS} expressions with ';', got {} in '{text}'",
                    pieces.len()
                ),
            ));
        }
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            if piece.is_empty() {
                return Err(ScheduleError::new(
                    ScheduleErrorKind::CronSyntax,
                    format!("empty cron expression between ';' in '{text}'"),
                ));
            }
            parts.push(CronPart::parse(piece)?);
        }
        let text = parts.iter().map(|part| part.text.as_str()).collect::<Vec<_>>().join("; ");
        Ok(CronSchedule { parts, text })
    }

    /// The canonical text; it re-parses to the same schedule.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn parts(&self) -> &[CronPart] {
        &self.parts
    }

    /// The next fire time strictly after `after` in `tz`.
    pub(crate) fn next_after(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        self.parts.iter().filter_map(|part| part.next_after(tz, after)).min()
    }
}

impl CronPart {
    fn parse(text: &str) -> Result<CronPart, ScheduleError> {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let first = tokens.first().copied().unwrap_or_default();
        if first.starts_with('@') {
            if tokens.len() > 1 {
                return Err(ScheduleError::new(
                    ScheduleErrorKind::CronSyntax,
                    format!("a macro stands alone, got '{text}'; write just '{first}'"),
                ));
            }
            let name = first.to_ascii_lowercase();
            let expansion = match name.as_str() {
                "@yearly" | "@annually" => "0 0 1 1 *",
                "@monthly" => "0 0 1 * *",
                "@weekly" => "0 0 * * 0",
                "@daily" | "@midnight" => "0 0 * * *",
                "@hourly" => "0 * * * *",
                "@reboot" => {
                    return Err(ScheduleError::new(
                        ScheduleErrorKind::CronSyntax,
                        "@reboot is not supported: a schedule fires at times, not on host start",
                    ));
                }
                _ => {
                    return Err(ScheduleError::new(
                        ScheduleErrorKind::CronSyntax,
                        format!(
                            "unknown cron macro '{first}'; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
                        ),
                    ));
                }
            };
            let fields: Vec<&str> = expansion.split(' ').collect();
            return CronPart::from_fields(&fields, expansion, name);
        }
        if tokens.len() != 5 {
            let extra = match tokens.len() {
                6 | 7 => "; seconds and year fields are not supported, this is 5-field cron",
                _ => "",
            };
            return Err(ScheduleError::new(
                ScheduleErrorKind::CronSyntax,
                format!(
                    "cron needs 5 fields (minute hour day-of-month month day-of-week), got {} in '{text}'{extra}",
                    tokens.len()
                ),
            ));
        }
        let whole = tokens.join(" ");
        // Lowercase names, but keep the conventional capital `L` in day-of-month.
        let canonical = tokens
            .iter()
            .enumerate()
            .map(|(index, token)| match index {
                2 => token.to_ascii_uppercase(),
                _ => token.to_ascii_lowercase(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        CronPart::from_fields(&tokens, &whole, canonical)
    }

    fn from_fields(tokens: &[&str], whole: &str, text: String) -> Result<CronPart, ScheduleError> {
        let mut sets = Vec::with_capacity(5);
        for (field, token) in Field::ALL.into_iter().zip(tokens) {
            sets.push(parse_field(field, token, whole)?);
        }
        let [minute, hour, dom, month, dow]: [FieldSet; 5] =
            sets.try_into().map_err(|_| ScheduleError::new(ScheduleErrorKind::CronSyntax, "cron needs 5 fields"))?;
        let days_and = dom.star || dow.star;
        if days_and && !dom_can_occur(dom.bits, dom.last_day, month.bits) {
            return Err(ScheduleError::new(
                ScheduleErrorKind::NeverFires,
                format!(
                    "day-of-month {} never occurs in month {}, so '{whole}' never fires; use L for the last day of the month",
                    dom.text, month.text
                ),
            ));
        }
        let wall_clock = !(minute.elapsed || hour.elapsed);
        let pattern = format!(
            "{} {} {} {} {}",
            bits_text(minute.bits),
            bits_text(hour.bits),
            dom_text(dom.bits, dom.last_day),
            bits_text(month.bits),
            bits_text(dow.bits)
        );
        let cron =
            croner::parser::CronParser::builder().dom_and_dow(days_and).build().parse(&pattern).map_err(|error| {
                ScheduleError::new(
                    ScheduleErrorKind::CronSyntax,
                    format!("cron expression '{whole}' was refused by the cron engine: {error}"),
                )
            })?;
        Ok(CronPart {
            text,
            minutes: minute.bits,
            hours: hour.bits,
            days: dom.bits,
            last_day: dom.last_day,
            months: month.bits,
            weekdays: dow.bits,
            days_and,
            wall_clock,
            field_texts: [minute.text, hour.text, dom.text, month.text, dow.text],
            cron,
        })
    }

    pub(crate) fn minutes(&self) -> u64 {
        self.minutes
    }

    pub(crate) fn hours(&self) -> u64 {
        self.hours
    }

    pub(crate) fn days(&self) -> u64 {
        self.days
    }

    pub(crate) fn last_day(&self) -> bool {
        self.last_day
    }

    pub(crate) fn months(&self) -> u64 {
        self.months
    }

    pub(crate) fn weekdays(&self) -> u64 {
        self.weekdays
    }

    pub(crate) fn days_and(&self) -> bool {
        self.days_and
    }

    pub(crate) fn wall_clock(&self) -> bool {
        self.wall_clock
    }

    pub(crate) fn field_text(&self, field: Field) -> &str {
        &self.field_texts[field.position() - 1]
    }

    /// Whether the day-of-month field is `*` (all days, no `L`).
    pub(crate) fn all_days(&self) -> bool {
        self.days == full_bits(1, 31)
    }

    /// Whether a wall-clock time matches the fields (seconds must be zero).
    pub(crate) fn matches(&self, civil: DateTime) -> bool {
        civil.second() == 0
            && civil.subsec_nanosecond() == 0
            && bit(self.minutes, civil.minute())
            && bit(self.hours, civil.hour())
            && bit(self.months, civil.month())
            && self.day_matches(civil.date())
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = bit(self.days, date.day()) || (self.last_day && date.day() == date.days_in_month());
        let dow = bit(self.weekdays, date.weekday().to_sunday_zero_offset());
        if self.days_and { dom && dow } else { dom || dow }
    }

    /// The next matching wall-clock time at or after `civil` (or strictly after it).
    ///
    /// croner does the search; in debug builds its answer is checked against this crate's own
    /// reading of the fields.
    pub(crate) fn next_civil(&self, civil: DateTime, inclusive: bool) -> Option<DateTime> {
        let found = self.cron.find_next_occurrence(&civil, inclusive).ok()?;
        debug_assert!(self.matches(found), "croner returned {found} for '{}', which does not match", self.text);
        Some(found)
    }

    /// The next fire time strictly after `after` in `tz`, under this part's DST rule.
    pub(crate) fn next_after(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        if self.wall_clock { self.next_wall_clock(tz, after) } else { self.next_elapsed(tz, after) }
    }

    /// Fixed wall-clock times: a time in a fold fires at its first occurrence, a time in a gap
    /// fires at the first instant after the gap. Both mappings are monotone in wall-clock
    /// time, so the first candidate whose instant is after `after` is the answer.
    fn next_wall_clock(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let mut civil = tz.to_datetime(after);
        let mut inclusive = true;
        for _ in 0..MAX_CANDIDATES {
            let candidate = self.next_civil(civil, inclusive)?;
            let at = zone::wall_clock_instant(tz, candidate)?;
            if at > after {
                return Some(at);
            }
            civil = candidate;
            inclusive = false;
        }
        None
    }

    /// Elapsed-time schedules: every occurrence of a matching wall-clock time fires, both
    /// passes of a fold included; times in a gap never happen.
    ///
    /// The walk starts early enough to see second passes of a fold that begins soon. Once a
    /// candidate's first occurrence is after `after`, no later candidate can beat it, so the
    /// walk stops there.
    fn next_elapsed(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let mut civil = zone::smallest_offset_soon(tz, after).to_datetime(after);
        let mut inclusive = true;
        let mut best: Option<Timestamp> = None;
        for _ in 0..MAX_CANDIDATES {
            let Some(candidate) = self.next_civil(civil, inclusive) else {
                return best;
            };
            let (first, second) = match zone::elapsed_instants(tz, candidate) {
                Instants::None => (None, None),
                Instants::One(at) => (Some(at), None),
                Instants::Two(first, second) => (Some(first), Some(second)),
            };
            if let Some(first) = first
                && first > after
            {
                return Some(best.map_or(first, |best| best.min(first)));
            }
            if let Some(second) = second
                && second > after
            {
                best = Some(best.map_or(second, |best| best.min(second)));
            }
            civil = candidate;
            inclusive = false;
        }
        best
    }
}

/// Whether some chosen month has some chosen day of the month (in some year).
fn dom_can_occur(days: u64, last_day: bool, months: u64) -> bool {
    if last_day {
        return true;
    }
    (1..=12u32).filter(|month| months & (1 << month) != 0).any(|month| {
        let longest = match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        days & full_bits(1, longest) != 0
    })
}

fn bit<T: Into<i64>>(bits: u64, value: T) -> bool {
    let value: i64 = value.into();
    (0..64).contains(&value) && bits & (1u64 << value) != 0
}

fn full_bits(low: u32, high: u32) -> u64 {
    (low..=high).fold(0, |bits, value| bits | (1 << value))
}

/// The numeric list croner gets for a field.
fn bits_text(bits: u64) -> String {
    (0..64u32).filter(|value| bits & (1 << value) != 0).map(|value| value.to_string()).collect::<Vec<_>>().join(",")
}

fn dom_text(bits: u64, last_day: bool) -> String {
    match (bits, last_day) {
        (0, _) => "L".to_owned(),
        (_, true) => format!("{},L", bits_text(bits)),
        (_, false) => bits_text(bits),
    }
}

/// Parses one field into its set, with a message naming the rule on failure.
fn parse_field(field: Field, text: &str, whole: &str) -> Result<FieldSet, ScheduleError> {
    let name = field.name();
    let mut set = FieldSet {
        bits: 0,
        last_day: false,
        elapsed: text.contains('*') || text.contains('/'),
        star: text.starts_with('*'),
        text: text.to_ascii_lowercase(),
    };
    for item in text.split(',') {
        if item.is_empty() {
            return Err(field_error(field, whole, format_args!("{name} has an empty list item in '{text}'")));
        }
        if item.contains('?') {
            return Err(field_error(field, whole, format_args!("'?' is Quartz syntax, not cron; write '*' in {name}")));
        }
        if item.contains('#') {
            return Err(field_error(
                field,
                whole,
                format_args!(
                    "'#' (nth weekday of the month) is not supported; {name} takes numbers, names, ranges, steps and lists, got '{item}'"
                ),
            ));
        }
        if item.eq_ignore_ascii_case("l") {
            if field == Field::DayOfMonth {
                set.last_day = true;
                continue;
            }
            return Err(field_error(
                field,
                whole,
                format_args!("'L' (last day of the month) is only allowed in day-of-month, got it in {name}"),
            ));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let (low, high) = if base == "*" {
            field.star_range()
        } else if let Some((low, high)) = base.split_once('-') {
            if low.is_empty() {
                return Err(field_error(
                    field,
                    whole,
                    format_args!("{name} must be {}-{}, got '{base}'", field.bounds().0, field.bounds().1),
                ));
            }
            let low_value = parse_value(field, low, whole, false)?;
            let mut high_value = parse_value(field, high, whole, true)?;
            // `sun` closes a range as 7 (`fri-sun`), except `sun-sun`, which is Sunday alone.
            if field == Field::DayOfWeek && low_value == 0 && high_value == 7 && !high.starts_with('7') {
                high_value = 0;
            }
            let (low, high) = (low_value, high_value);
            if low > high {
                return Err(field_error(
                    field,
                    whole,
                    format_args!(
                        "range {base} in {name} runs backwards; ranges go from low to high{}",
                        if field == Field::DayOfWeek {
                            ", and 7 is Sunday (e.g. 5-7 for Friday to Sunday)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            (low, high)
        } else {
            let value = parse_value(field, base, whole, false)?;
            if let Some(step) = step {
                let (_, max) = field.bounds();
                return Err(field_error(
                    field,
                    whole,
                    format_args!(
                        "a step needs a range or '*' in {name}: write '*/{step}' or '{base}-{max}/{step}', got '{item}'"
                    ),
                ));
            }
            (value, value)
        };
        let step = match step {
            None => 1,
            Some(step) => parse_step(field, step, whole)?,
        };
        let mut value = low;
        while value <= high {
            let stored = if field == Field::DayOfWeek && value == 7 { 0 } else { value };
            set.bits |= 1 << stored;
            value += step;
        }
    }
    Ok(set)
}

fn parse_step(field: Field, step: &str, whole: &str) -> Result<u32, ScheduleError> {
    let (low, high) = field.star_range();
    let max_step = high - low;
    let parsed = if !step.is_empty() && step.len() <= 9 && step.bytes().all(|b| b.is_ascii_digit()) {
        step.parse::<u32>().ok()
    } else {
        None
    };
    match parsed {
        Some(value) if (1..=max_step).contains(&value) => Ok(value),
        _ => {
            Err(field_error(field, whole, format_args!("step in {} must be 1-{max_step}, got '{step}'", field.name())))
        }
    }
}

/// Parses a number or a name. `range_end` lets `sun` close a day-of-week range as 7.
fn parse_value(field: Field, token: &str, whole: &str, range_end: bool) -> Result<u32, ScheduleError> {
    let name = field.name();
    let (min, max) = field.bounds();
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        let value = if token.len() <= 9 { token.parse::<u32>().ok() } else { None };
        return match value {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(field_error(field, whole, format_args!("{name} must be {min}-{max}, got {token}"))),
        };
    }
    let names = field.names();
    if !names.is_empty() && !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphabetic()) {
        let lower = token.to_ascii_lowercase();
        if let Some(index) = names.iter().position(|known| *known == lower) {
            let index = u32::try_from(index).unwrap_or_default();
            return Ok(match field {
                Field::Month => index + 1,
                _ if range_end && index == 0 => 7,
                _ => index,
            });
        }
        return Err(field_error(field, whole, format_args!("{name} names are {}, got '{token}'", names.join(", "))));
    }
    if field == Field::DayOfMonth && token.to_ascii_lowercase().ends_with('w') {
        return Err(field_error(
            field,
            whole,
            format_args!("'W' (nearest weekday) is not supported in {name}, got '{token}'"),
        ));
    }
    let also = if names.is_empty() { "" } else { " or a name" };
    Err(field_error(field, whole, format_args!("{name} must be a number {min}-{max}{also}, got '{token}'")))
}
