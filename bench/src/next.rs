//! The `next` workload: how many next-fire computations per second `Schedule::next_after`
//! does, for `*/5 * * * *` and `0 9 * * 1-5` in UTC and America/New_York.
//!
//! The machine is shared and noisy, so the same run also measures a baseline, a trivial
//! interval schedule (`5m`, pure arithmetic), and reports each case as a ratio to it. Cases
//! are interleaved over several rounds and the median round is reported.
//!
//! Each call asks from a different instant (a prime stride through ten years, which crosses
//! every DST change in between), like the engine asking after the last fire.
//!
//! A reference case times croner's own zoned search (`find_next_occurrence` on a
//! `jiff::Zoned`) for `*/5 * * * *` in New York: the cost of the crate's DST layer is the
//! difference to the matching case.
//!
//! Arguments: `--secs S` time per case per round (default 1), `--rounds N` (default 3).
//! Output: one JSON line.

use std::hint::black_box;
use std::time::{Duration, Instant};

use scheduler_schedule::{Schedule, ScheduleOptions, Timestamp};

const CASES: [(&str, &str, &str); 5] = [
    ("baseline: interval 5m", "5m", "UTC"),
    ("*/5 * * * * UTC", "*/5 * * * *", "UTC"),
    ("*/5 * * * * America/New_York", "*/5 * * * *", "America/New_York"),
    ("0 9 * * 1-5 UTC", "0 9 * * 1-5", "UTC"),
    ("0 9 * * 1-5 America/New_York", "0 9 * * 1-5", "America/New_York"),
];

const REFERENCE: (&str, &str, &str) =
    ("reference: croner alone, */5 * * * * America/New_York", "*/5 * * * *", "America/New_York");

/// 2027-01-01T00:00:00Z.
const START_SECS: i64 = 1_798_761_600;
const SPAN_SECS: i64 = 10 * 365 * 86_400;
const STRIDE_SECS: i64 = 7_919;
const BATCH: u32 = 1_000;

fn parse_args(args: &[String]) -> Result<(Duration, usize), String> {
    let mut secs = 1.0_f64;
    let mut rounds = 3_usize;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--secs" => {
                secs = value.parse().map_err(|_| format!("--secs wants seconds, got '{value}'"))?;
            }
            "--rounds" => {
                rounds = value.parse().map_err(|_| format!("--rounds wants a count, got '{value}'"))?;
            }
            other => {
                return Err(format!("unknown argument '{other}'; use --secs S, --rounds N"));
            }
        }
    }
    if !(secs > 0.0 && secs <= 60.0) || rounds == 0 || rounds > 100 {
        return Err("--secs must be in (0, 60] and --rounds in 1..=100".to_owned());
    }
    Ok((Duration::from_secs_f64(secs), rounds))
}

/// What one case times.
enum Subject {
    Schedule(Schedule),
    /// croner alone, searching in a zone.
    Croner(Box<croner::Cron>, jiff::tz::TimeZone),
}

impl Subject {
    fn next(&self, at: Timestamp) -> Option<Timestamp> {
        match self {
            Subject::Schedule(schedule) => schedule.next_after(at),
            Subject::Croner(cron, tz) => {
                cron.find_next_occurrence(&at.to_zoned(tz.clone()), false).ok().map(|zoned| zoned.timestamp())
            }
        }
    }
}

/// Calls `next` for `budget` and returns calls per second.
fn measure(subject: &Subject, budget: Duration) -> Result<f64, String> {
    let started = Instant::now();
    let mut calls: u64 = 0;
    let mut offset: i64 = 0;
    while started.elapsed() < budget {
        for _ in 0..BATCH {
            offset = (offset + STRIDE_SECS) % SPAN_SECS;
            let at = Timestamp::from_second(START_SECS + offset).map_err(|error| format!("probe instant: {error}"))?;
            black_box(subject.next(black_box(at)));
        }
        calls += u64::from(BATCH);
    }
    Ok(calls as f64 / started.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs the workload and prints one JSON line.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (budget, rounds) = parse_args(args)?;
    let anchor = Timestamp::from_second(START_SECS).map_err(|error| error.to_string())?;
    let mut subjects = CASES
        .iter()
        .map(|(_, text, zone)| {
            Schedule::parse(text, &ScheduleOptions::new(anchor).with_timezone(*zone))
                .map(Subject::Schedule)
                .map_err(|error| format!("'{text}' in {zone}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cron = croner::parser::CronParser::builder().build().parse(REFERENCE.1).map_err(|error| error.to_string())?;
    let tz = jiff::tz::TimeZone::get(REFERENCE.2).map_err(|error| error.to_string())?;
    subjects.push(Subject::Croner(Box::new(cron), tz));
    let names: Vec<&str> = CASES.iter().chain([&REFERENCE]).map(|(name, _, _)| *name).collect();
    let mut rates = vec![Vec::with_capacity(rounds); subjects.len()];
    for _ in 0..rounds {
        for (subject, rate) in subjects.iter().zip(rates.iter_mut()) {
            rate.push(measure(subject, budget)?);
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|rate| median(rate)).collect();
    let baseline = medians[0];
    let cases: Vec<String> = names
        .iter()
        .zip(&medians)
        .map(|(name, per_sec)| {
            format!(
                "{{\"name\":\"{name}\",\"next_per_sec\":{per_sec:.0},\"ns_per_next\":{:.1},\"baseline_ratio\":{:.4}}}",
                1e9 / per_sec,
                per_sec / baseline
            )
        })
        .collect();
    let line = format!(
        "{{\"workload\":\"next\",\"secs_per_case\":{},\"rounds\":{rounds},\"cases\":[{}]}}",
        budget.as_secs_f64(),
        cases.join(",")
    );
    // The one JSON line is this binary's output.
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
