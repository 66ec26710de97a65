//! Saying in words when a schedule fires, for `scheduler:next --explain` and
//! `scheduler:validate`.
//!
//! [`Explanation`] has a one-line summary of the rule ("at 02:00 every day in Europe/Berlin")
//! and notes about the clock changes in the coming year that touch it ("2027-03-28 02:00 does
//! not exist in Europe/Berlin (clocks go from 02:00 to 03:00), fires at 03:00").
//!
//! The wording is English and is not a stable format: programs should use
//! [`Schedule::next_after`](crate::Schedule::next_after), not parse these strings.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::cron::{CronPart, CronSchedule, Field};

/// How far ahead [`Explanation::notes`] look for clock changes.
const NOTE_HORIZON_SECS: i64 = 366 * 86_400;

/// When a schedule fires, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The rule in one line, with the time zone.
    pub summary: String,
    /// Clock changes in the coming year that move, drop or repeat a fire time, and other
    /// facts worth knowing (a one-off already in the past).
    pub notes: Vec<String>,
    /// The next fire time after the instant the explanation was made for.
    pub next: Option<Timestamp>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)?;
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn values(bits: u64) -> Vec<u32> {
    (0..64).filter(|value| bits & (1u64 << value) != 0).collect()
}

/// Consecutive values merged into `(first, last)` runs.
fn runs(values: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &value in values {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == value => *last = value,
            _ => out.push((value, value)),
        }
    }
    out
}

/// `a`, `a and b`, `a, b and c`.
fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn runs_text(values: &[u32], name: impl Fn(u32) -> String, through: &str) -> String {
    let words: Vec<String> = runs(values)
        .into_iter()
        .map(|(first, last)| match last - first {
            0 => name(first),
            1 => format!("{} and {}", name(first), name(last)),
            _ => format!("{}{through}{}", name(first), name(last)),
        })
        .collect();
    join_words(&words)
}

/// A step written as `*/n` in the field, when it divides the field evenly.
fn even_step(text: &str, span: u32) -> Option<u32> {
    let step = text.strip_prefix("*/")?.parse::<u32>().ok()?;
    (step > 1 && span.is_multiple_of(step)).then_some(step)
}

/// `2nd`, `3rd`, `4th`, `12th`.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn time_phrase(part: &CronPart) -> String {
    let minutes = values(part.minutes());
    let hours = values(part.hours());
    if part.wall_clock() && minutes.len() * hours.len() <= 6 {
        let times: Vec<String> =
            hours.iter().flat_map(|hour| minutes.iter().map(move |minute| format!("{hour:02}:{minute:02}"))).collect();
        return format!("at {}", join_words(&times));
    }
    let all_minutes = minutes.len() == 60;
    let minute = if all_minutes {
        "every minute".to_owned()
    } else if let Some(step) = even_step(part.field_text(Field::Minute), 60) {
        format!("every {step} minutes")
    } else if minutes.len() == 1 {
        format!("at minute {}", minutes[0])
    } else {
        format!("at minutes {}", runs_text(&minutes, |m| m.to_string(), "-"))
    };
    let every = all_minutes || minute.starts_with("every");
    let hour = if hours.len() == 24 {
        if every { String::new() } else { " of every hour".to_owned() }
    } else if let Some(step) = even_step(part.field_text(Field::Hour), 24) {
        format!(" of every {} hour", ordinal(step))
    } else if hours.len() == 1 {
        format!(" during hour {:02}", hours[0])
    } else {
        format!(" during hours {}", runs_text(&hours, |h| format!("{h:02}"), "-"))
    };
    format!("{minute}{hour}")
}

fn day_phrase(part: &CronPart) -> String {
    let days = values(part.days());
    let all_days = part.all_days();
    let weekdays = values(part.weekdays());
    let all_weekdays = weekdays.len() == 7;
    let dom = {
        let mut words = Vec::new();
        if !days.is_empty() {
            let plural = if days.len() == 1 { "day" } else { "days" };
            words.push(format!("{plural} {}", runs_text(&days, |d| d.to_string(), "-")));
        }
        if part.last_day() {
            words.push("the last day".to_owned());
        }
        format!("on {} of the month", join_words(&words))
    };
    let dow = format!("on {}", runs_text(&weekdays, |d| WEEKDAYS[d as usize % 7].to_owned(), " through "));
    let dom_all = all_days && !part.last_day();
    if part.days_and() {
        match (dom_all, all_weekdays) {
            (true, true) => "every day".to_owned(),
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => {
                let names: Vec<String> = weekdays.iter().map(|d| WEEKDAYS[*d as usize % 7].to_owned()).collect();
                format!("{dom} if it is a {}", names.join(" or "))
            }
        }
    } else if dom_all || all_weekdays {
        "every day".to_owned()
    } else {
        format!("{dom} or {dow}")
    }
}

fn month_phrase(part: &CronPart) -> String {
    let months = values(part.months());
    if months.len() == 12 {
        return String::new();
    }
    format!(" in {}", runs_text(&months, |m| MONTHS[(m as usize + 11) % 12].to_owned(), " through "))
}

/// "at 02:00 every day", without the zone.
pub(crate) fn describe_part(part: &CronPart) -> String {
    let time = time_phrase(part);
    let day = day_phrase(part);
    let month = month_phrase(part);
    if day == "every day" && time.starts_with("every") {
        format!("{time}{month}")
    } else {
        format!("{time} {day}{month}")
    }
}

fn hhmm(civil: DateTime) -> String {
    format!("{:02}:{:02}", civil.hour(), civil.minute())
}

/// Notes on clock changes within a year after `after` that touch the schedule.
pub(crate) fn cron_notes(cron: &CronSchedule, tz: &TimeZone, tz_name: &str, after: Timestamp) -> Vec<String> {
    let mut notes = Vec::new();
    let horizon = after.as_second().saturating_add(NOTE_HORIZON_SECS);
    for transition in tz.following(after).take(4) {
        let at = transition.timestamp();
        if at.as_second() > horizon {
            break;
        }
        let Ok(just_before) = at.checked_sub(SignedDuration::from_nanos(1)) else {
            continue;
        };
        let before = tz.to_offset(just_before);
        let after_offset = transition.offset();
        if before == after_offset {
            continue;
        }
        let (old_clock, new_clock) = (before.to_datetime(at), after_offset.to_datetime(at));
        let gap = after_offset > before;
        let (start, end) = if gap { (old_clock, new_clock) } else { (new_clock, old_clock) };
        for part in cron.parts() {
            let Some(hit) = part.next_civil(start, true).filter(|hit| *hit < end) else {
                continue;
            };
            let note = match (gap, part.wall_clock()) {
                (true, true) => format!(
                    "{} {} does not exist in {tz_name} (clocks go from {} to {}), fires at {}",
                    hit.date(),
                    hhmm(hit),
                    hhmm(start),
                    hhmm(end),
                    hhmm(end)
                ),
                (true, false) => format!(
                    "{} {}-{} does not exist in {tz_name} (clocks go forward), fire times in it are skipped",
                    start.date(),
                    hhmm(start),
                    hhmm(end)
                ),
                (false, true) => format!(
                    "{} {} happens twice in {tz_name} (clocks go back from {} to {}), fires once, at the first",
                    hit.date(),
                    hhmm(hit),
                    hhmm(end),
                    hhmm(start)
                ),
                (false, false) => format!(
                    "{} {}-{} happens twice in {tz_name} (clocks go back), fires in both passes",
                    start.date(),
                    hhmm(start),
                    hhmm(end)
                ),
            };
            notes.push(note);
            break;
        }
    }
    notes
}
