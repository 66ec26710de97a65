//! Presets for people who do not write cron: `daily 02:30`, `weekly mon 09:00`, ...
//!
//! A preset is sugar: it turns into a cron or interval schedule, and the stored expression is
//! the canonical cron or interval text, never the preset words.
//!
//! Grammar (case-insensitive, words separated by spaces, `at` and `on` optional):
//!
//! ```text
//! daily    [at] HH:MM                    M H * * *
//! weekdays [at] HH:MM                    M H * * 1-5
//! weekly   [on] DAY [at] HH:MM           M H * * D      DAY: sun..sat or sunday..saturday
//! monthly  [on] N|last [at] HH:MM        see the month-end rule below
//! every    DURATION                      interval, e.g. every 15m, every 2h, every 1d
//! ```
//!
//! Month-end rule: a monthly preset on a day some months lack fires on the last day of those
//! months. Days 1-28 give `M H N * *`; 31 and `last` give `M H L * *` (the last day of every
//! month); 29 and 30 give the union `M H N 1,3-12 *; M H L 2 *` (that day, and the last day
//! of February: the 28th, or the 29th in leap years).

use std::fmt;
use std::time::Duration;

use jiff::civil::Weekday;

use crate::error::{ScheduleError, ScheduleErrorKind};

/// A wall-clock time of day, minutes precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeOfDay {
    // Invariant: hour <= 23, minute <= 59.
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// A time of day; hour 0-23, minute 0-59.
    pub fn new(hour: u8, minute: u8) -> Result<TimeOfDay, ScheduleError> {
        if hour > 23 || minute > 59 {
            return Err(preset_error(format!("time of day must be 00:00-23:59, got {hour:02}:{minute:02}")));
        }
        Ok(TimeOfDay { hour, minute })
    }

    /// The hour, 0-23.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, 0-59.
    pub fn minute(self) -> u8 {
        self.minute
    }

    /// Parses `HH:MM` (or `H:MM`).
    fn parse(text: &str) -> Result<TimeOfDay, ScheduleError> {
        let bad = || preset_error(format!("time must be HH:MM (00:00-23:59), got '{text}'"));
        let (hour, minute) = text.split_once(':').ok_or_else(bad)?;
        let number = |part: &str, widths: std::ops::RangeInclusive<usize>| {
            if widths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse::<u8>().ok()
            } else {
                None
            }
        };
        match (number(hour, 1..=2), number(minute, 2..=2)) {
            (Some(hour), Some(minute)) => TimeOfDay::new(hour, minute).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// The day a monthly preset fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonthDay {
    /// A day 1-31; months without it fire on their last day.
    Day(u8),
    /// The last day of every month.
    Last,
}

/// A schedule described the way people say it. See the module docs for the grammar and the
/// month-end rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Every day at a time.
    Daily {
        /// When.
        at: TimeOfDay,
    },
    /// Monday to Friday at a time.
    Weekdays {
        /// When.
        at: TimeOfDay,
    },
    /// One weekday at a time.
    Weekly {
        /// Which day.
        day: Weekday,
        /// When.
        at: TimeOfDay,
    },
    /// One day of the month at a time.
    Monthly {
        /// Which day.
        day: MonthDay,
        /// When.
        at: TimeOfDay,
    },
    /// A fixed interval (an interval schedule anchored to the anchor instant).
    Every(Duration),
}

impl Preset {
    /// The canonical cron or interval text the preset stands for.
    pub fn expression(&self) -> Result<String, ScheduleError> {
        Ok(match *self {
            Preset::Daily { at } => format!("{} {} * * *", at.minute, at.hour),
            Preset::Weekdays { at } => format!("{} {} * * 1-5", at.minute, at.hour),
            Preset::Weekly { day, at } => format!("{} {} * * {}", at.minute, at.hour, day.to_sunday_zero_offset()),
            Preset::Monthly { day, at } => {
                let (minute, hour) = (at.minute, at.hour);
                match day {
                    MonthDay::Day(day @ 1..=28) => format!("{minute} {hour} {day} * *"),
                    MonthDay::Day(day @ 29..=30) => {
                        format!("{minute} {hour} {day} 1,3-12 *; {minute} {hour} L 2 *")
                    }
                    MonthDay::Day(31) | MonthDay::Last => format!("{minute} {hour} L * *"),
                    MonthDay::Day(day) => {
                        return Err(preset_error(format!("monthly day must be 1-31 or 'last', got {day}")));
                    }
                }
            }
            Preset::Every(every) => {
                // Route through the interval rules so zero and sub-second are refused here too.
                let text = crate::interval::format(every);
                if every.subsec_nanos() != 0 {
                    return Err(preset_error(format!("interval must be a whole number of seconds, got {every:?}")));
                }
                crate::interval::parse(&text)?;
                text
            }
        })
    }

    /// Whether the text starts with a preset keyword (`daily`, `weekdays`, `weekly`,
    /// `monthly`, `every`).
    pub(crate) fn is_preset_text(text: &str) -> bool {
        let first = text.split_whitespace().next().unwrap_or_default();
        ["daily", "weekdays", "weekly", "monthly", "every"].iter().any(|keyword| first.eq_ignore_ascii_case(keyword))
    }

    /// Parses the textual preset grammar.
    pub fn parse(text: &str) -> Result<Preset, ScheduleError> {
        let words: Vec<String> = text.split_whitespace().map(str::to_ascii_lowercase).collect();
        let Some((keyword, rest)) = words.split_first() else {
            return Err(preset_error("preset is empty; write e.g. 'daily 02:30'"));
        };
        if keyword == "every" {
            let duration = text.trim().get(keyword.len()..).unwrap_or_default().trim();
            if duration.is_empty() {
                return Err(preset_error("'every' needs a duration, e.g. 'every 15m'"));
            }
            return Ok(Preset::Every(crate::interval::parse(duration)?));
        }
        let rest: Vec<&str> = rest.iter().map(String::as_str).filter(|word| *word != "at" && *word != "on").collect();
        match (keyword.as_str(), rest.as_slice()) {
            ("daily", [at]) => Ok(Preset::Daily { at: TimeOfDay::parse(at)? }),
            ("weekdays", [at]) => Ok(Preset::Weekdays { at: TimeOfDay::parse(at)? }),
            ("weekly", [day, at]) => Ok(Preset::Weekly { day: parse_weekday(day)?, at: TimeOfDay::parse(at)? }),
            ("monthly", [day, at]) => Ok(Preset::Monthly { day: parse_month_day(day)?, at: TimeOfDay::parse(at)? }),
            ("daily", _) => {
                Err(preset_error(format!("daily needs one time, e.g. 'daily 02:30', got '{}'", text.trim())))
            }
            ("weekdays", _) => {
                Err(preset_error(format!("weekdays needs one time, e.g. 'weekdays 09:00', got '{}'", text.trim())))
            }
            ("weekly", _) => Err(preset_error(format!(
                "weekly needs a weekday and a time, e.g. 'weekly mon 09:00', got '{}'",
                text.trim()
            ))),
            ("monthly", _) => Err(preset_error(format!(
                "monthly needs a day (1-31 or 'last') and a time, e.g. 'monthly 1 09:00', got '{}'",
                text.trim()
            ))),
            _ => {
                Err(preset_error(format!("unknown preset '{keyword}'; use daily, weekdays, weekly, monthly or every")))
            }
        }
    }
}

fn parse_weekday(word: &str) -> Result<Weekday, ScheduleError> {
    const DAYS: [(&str, &str, Weekday); 7] = [
        ("sun", "sunday", Weekday::Sunday),
        ("mon", "monday", Weekday::Monday),
        ("tue", "tuesday", Weekday::Tuesday),
        ("wed", "wednesday", Weekday::Wednesday),
        ("thu", "thursday", Weekday::Thursday),
        ("fri", "friday", Weekday::Friday),
        ("sat", "saturday", Weekday::Saturday),
    ];
    DAYS.iter().find(|(short, long, _)| word == *short || word == *long).map(|(_, _, day)| *day).ok_or_else(|| {
        preset_error(format!(
            "weekday must be one of sun, mon, tue, wed, thu, fri, sat (or the full name), got '{word}'"
        ))
    })
}

fn parse_month_day(word: &str) -> Result<MonthDay, ScheduleError> {
    if word == "last" {
        return Ok(MonthDay::Last);
    }
    match word.parse::<u8>() {
        Ok(day @ 1..=31) if word.len() <= 2 => Ok(MonthDay::Day(day)),
        _ => Err(preset_error(format!("monthly day must be 1-31 or 'last', got '{word}'"))),
    }
}

fn preset_error(message: impl Into<String>) -> ScheduleError {
    ScheduleError::new(ScheduleErrorKind::Preset, message)
}
