//! The schedule language of the scheduler module.
//!
//! One type, [`Schedule`], covers every schedule a user can write (cron, interval, once,
//! manual), and one operation matters: [`Schedule::next_after`], the next fire time strictly
//! after an instant, in the schedule's time zone.
//!
//! This crate does no IO and knows nothing about tasks, stores or the bus.
//!
//! NOTE: this is the first cut of the API the engine builds on; issue 3 makes it exact
//! and total (presets, explain, DST documentation, error messages per field).

use std::time::Duration;

pub use jiff::Timestamp;
use jiff::tz::TimeZone;

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

/// Why a schedule text was refused. The message states the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleError {
    message: String,
}

impl ScheduleError {
    fn new(message: impl Into<String>) -> ScheduleError {
        ScheduleError { message: message.into() }
    }
}

#[derive(Debug, Clone)]
enum Spec {
    Cron(Box<croner::Cron>),
    Interval { every: Duration, anchor: Timestamp },
    Once(Timestamp),
    Manual,
}

/// A parsed schedule with its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: Spec,
    expression: String,
    tz_name: String,
    tz: TimeZone,
}

impl Schedule {
    /// Parses user text into a schedule.
    pub fn parse(text: &str, options: &ScheduleOptions) -> Result<Schedule, ScheduleError> {
        let tz_name = options.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
        let tz = TimeZone::get(&tz_name).map_err(|_| ScheduleError::new(format!("unknown time zone '{tz_name}'")))?;
        let text = text.trim();
        let kind = match options.kind {
            Some(kind) => kind,
            None if text.eq_ignore_ascii_case("manual") => ScheduleKind::Manual,
            None if text.eq_ignore_ascii_case("now") => ScheduleKind::Once,
            None if humantime::parse_duration(text).is_ok() => ScheduleKind::Interval,
            None if Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", text).is_ok() || text.parse::<Timestamp>().is_ok() => {
                ScheduleKind::Once
            }
            None => ScheduleKind::Cron,
        };
        let spec = match kind {
            ScheduleKind::Manual => Spec::Manual,
            ScheduleKind::Interval => {
                let every = humantime::parse_duration(text)
                    .map_err(|error| ScheduleError::new(format!("invalid interval '{text}': {error}")))?;
                if every.is_zero() {
                    return Err(ScheduleError::new("interval must be greater than zero"));
                }
                Spec::Interval { every, anchor: options.anchor }
            }
            ScheduleKind::Once => {
                if text.eq_ignore_ascii_case("now") {
                    Spec::Once(options.anchor)
                } else {
                    let at = text
                        .parse::<Timestamp>()
                        .map_err(|error| ScheduleError::new(format!("invalid timestamp '{text}': {error}")))?;
                    Spec::Once(at)
                }
            }
            ScheduleKind::Cron => {
                let pattern = if text == "@midnight" { "@daily" } else { text };
                let cron = croner::parser::CronParser::builder()
                    .build()
                    .parse(pattern)
                    .map_err(|error| ScheduleError::new(format!("invalid cron expression '{text}': {error}")))?;
                Spec::Cron(Box::new(cron))
            }
        };
        let expression = match &spec {
            Spec::Once(at) => at.to_string(),
            _ => text.to_owned(),
        };
        Ok(Schedule { spec, expression, tz_name, tz })
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
            Spec::Interval { every, anchor } => {
                let every_ns = i128::try_from(every.as_nanos()).ok()?;
                let since = after.as_nanosecond() - anchor.as_nanosecond();
                let k = if since < 0 { 1 } else { since / every_ns + 1 };
                Timestamp::from_nanosecond(anchor.as_nanosecond() + k * every_ns).ok()
            }
            Spec::Cron(cron) => {
                let zoned = after.to_zoned(self.tz.clone());
                cron.find_next_occurrence(&zoned, false).ok().map(|z| z.timestamp())
            }
        }
    }
}
