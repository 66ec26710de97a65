//! Property tests: random valid cron expressions and instants, in zones with and without DST.
//!
//! The expressions are generated together with the field sets they mean, computed here
//! without croner or the crate's parser. Each fire time is then checked three ways:
//! - `next(t) > t`, and `next` is monotone in `t`;
//! - the fire time's wall clock in the zone matches the field sets (or it is the end of a
//!   DST gap that swallowed a matching fixed time);
//! - it equals a brute-force oracle that walks the calendar day by day and applies the DST
//!   rules with jiff directly, so no fire is skipped and none is invented.
//!
//! `PROPTEST_CASES` raises the case count for a longer run.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};
use proptest::prelude::*;
use scheduler_schedule::{Schedule, ScheduleOptions};

const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Minute,
    Hour,
    Dom,
    Month,
    Dow,
}

impl Kind {
    fn bounds(self) -> (u32, u32) {
        match self {
            Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::Dom => (1, 31),
            Kind::Month => (1, 12),
            Kind::Dow => (0, 7),
        }
    }

    fn star(self) -> (u32, u32) {
        match self {
            Kind::Dow => (0, 6),
            other => other.bounds(),
        }
    }
}

/// One generated field: its text and the values it means.
#[derive(Debug, Clone)]
struct FieldCase {
    text: String,
    values: BTreeSet<u32>,
    star_first: bool,
    elapsed: bool,
}

#[derive(Debug, Clone)]
enum Item {
    Star,
    StarStep(u32),
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
}

/// A value as text; with `name`, months and weekdays use names. `sun` closing a range means
/// 7 unless the range starts at Sunday (`sun-sun` is Sunday alone), so 0-7 stays numeric.
fn render(kind: Kind, value: u32, name: bool, range_end: bool) -> String {
    match kind {
        Kind::Month if name => MONTHS[value as usize - 1].to_owned(),
        Kind::Dow if name && value < 7 => WEEKDAYS[value as usize].to_owned(),
        Kind::Dow if name && value == 7 && range_end => "sun".to_owned(),
        _ => value.to_string(),
    }
}

fn item_strategy(kind: Kind) -> impl Strategy<Value = Item> {
    let (low, high) = kind.bounds();
    let (star_low, star_high) = kind.star();
    let max_step = star_high - star_low;
    prop_oneof![
        1 => Just(Item::Star),
        2 => (1..=max_step).prop_map(Item::StarStep),
        4 => (low..=high).prop_map(Item::Value),
        2 => (low..=high, low..=high).prop_map(|(a, b)| Item::Range(a.min(b), a.max(b))),
        1 => (low..=high, low..=high, 1..=max_step)
            .prop_map(|(a, b, s)| Item::RangeStep(a.min(b), a.max(b), s)),
    ]
}

fn field_strategy(kind: Kind) -> impl Strategy<Value = FieldCase> {
    (prop::collection::vec(item_strategy(kind), 1..=3), any::<bool>()).prop_map(move |(items, names)| {
        let mut values = BTreeSet::new();
        let mut texts = Vec::new();
        let add = |from: u32, to: u32, step: u32, values: &mut BTreeSet<u32>| {
            let mut value = from;
            while value <= to {
                values.insert(if kind == Kind::Dow && value == 7 { 0 } else { value });
                value += step;
            }
        };
        for item in &items {
            let (star_low, star_high) = kind.star();
            match *item {
                Item::Star => {
                    add(star_low, star_high, 1, &mut values);
                    texts.push("*".to_owned());
                }
                Item::StarStep(step) => {
                    add(star_low, star_high, step, &mut values);
                    texts.push(format!("*/{step}"));
                }
                Item::Value(value) => {
                    add(value, value, 1, &mut values);
                    texts.push(render(kind, value, names, false));
                }
                Item::Range(a, b) => {
                    add(a, b, 1, &mut values);
                    let end_name = names && !(kind == Kind::Dow && a == 0);
                    texts.push(format!("{}-{}", render(kind, a, names, false), render(kind, b, end_name, true)));
                }
                Item::RangeStep(a, b, step) => {
                    add(a, b, step, &mut values);
                    let end_name = names && !(kind == Kind::Dow && a == 0);
                    texts.push(format!("{}-{}/{step}", render(kind, a, names, false), render(kind, b, end_name, true)));
                }
            }
        }
        let text = texts.join(",");
        FieldCase { star_first: text.starts_with('*'), elapsed: text.contains('*') || text.contains('/'), text, values }
    })
}

#[derive(Debug, Clone)]
struct CronCase {
    fields: [FieldCase; 5],
}

impl CronCase {
    fn text(&self) -> String {
        self.fields.iter().map(|field| field.text.as_str()).collect::<Vec<_>>().join(" ")
    }

    fn wall_clock(&self) -> bool {
        !(self.fields[0].elapsed || self.fields[1].elapsed)
    }

    fn date_matches(&self, date: Date) -> bool {
        let [_, _, dom, month, dow] = &self.fields;
        let day = u32::try_from(date.day()).unwrap();
        let weekday = u32::from(date.weekday().to_sunday_zero_offset().unsigned_abs());
        let dom_ok = dom.values.contains(&day);
        let dow_ok = dow.values.contains(&weekday);
        let days_ok = if dom.star_first || dow.star_first { dom_ok && dow_ok } else { dom_ok || dow_ok };
        month.values.contains(&u32::try_from(date.month()).unwrap()) && days_ok
    }

    fn matches(&self, civil: DateTime) -> bool {
        civil.second() == 0
            && civil.subsec_nanosecond() == 0
            && self.fields[0].values.contains(&u32::try_from(civil.minute()).unwrap())
            && self.fields[1].values.contains(&u32::try_from(civil.hour()).unwrap())
            && self.date_matches(civil.date())
    }
}

fn cron_strategy() -> impl Strategy<Value = CronCase> {
    (
        field_strategy(Kind::Minute),
        field_strategy(Kind::Hour),
        field_strategy(Kind::Dom),
        field_strategy(Kind::Month),
        field_strategy(Kind::Dow),
    )
        .prop_map(|(minute, hour, dom, month, dow)| CronCase { fields: [minute, hour, dom, month, dow] })
}

/// The instants a matching wall-clock time fires at, by the DST rules, computed with jiff
/// alone: fold gives the first (wall clock) or both (elapsed); gap gives the end of the gap
/// (wall clock) or nothing (elapsed).
fn oracle_instants(tz: &TimeZone, civil: DateTime, wall_clock: bool) -> Vec<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(civil);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(civil).into_iter().collect(),
        AmbiguousOffset::Fold { before, after } => {
            let mut out: Vec<Timestamp> = before.to_timestamp(civil).into_iter().collect();
            if !wall_clock {
                out.extend(after.to_timestamp(civil));
            }
            out
        }
        AmbiguousOffset::Gap { before, .. } => {
            if !wall_clock {
                return Vec::new();
            }
            // Read with the offset before the gap, the time lies after the transition; the
            // transition just before it is where the gap ends.
            let Ok(late) = before.to_timestamp(civil) else {
                return Vec::new();
            };
            tz.preceding(late).next().map(|transition| transition.timestamp()).into_iter().collect()
        }
    }
}

/// Brute force: walk the calendar day by day from two days before `after`, for 30 years.
fn oracle_next(case: &CronCase, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let wall_clock = case.wall_clock();
    let mut day = tz.to_datetime(after).date().checked_sub(2.days()).ok()?;
    let mut best: Option<Timestamp> = None;
    let mut best_day: Option<Date> = None;
    // A day-of-month that must also be a given weekday in one month can be 11 years apart;
    // 30 years covers the 28-year calendar cycle and a skipped leap day.
    for _ in 0..(366 * 30) {
        if let Some(found) = best_day
            && day > found.checked_add(1.day()).ok()?
        {
            break;
        }
        if case.date_matches(day) {
            for &hour in &case.fields[1].values {
                for &minute in &case.fields[0].values {
                    let civil = day.at(hour as i8, minute as i8, 0, 0);
                    for at in oracle_instants(tz, civil, wall_clock) {
                        if at > after && best.is_none_or(|best| at < best) {
                            best = Some(at);
                            best_day.get_or_insert(day);
                        }
                    }
                }
            }
        }
        day = day.tomorrow().ok()?;
    }
    best
}

/// Whether `at` is the end of a gap that swallowed a matching wall-clock time.
fn is_gap_fire(case: &CronCase, tz: &TimeZone, at: Timestamp) -> bool {
    let Ok(just_before) = at.checked_sub(SignedDuration::from_nanos(1)) else {
        return false;
    };
    let (before, after) = (tz.to_offset(just_before), tz.to_offset(at));
    if after <= before {
        return false;
    }
    let (start, end) = (before.to_datetime(at), after.to_datetime(at));
    let mut civil = start;
    while civil < end {
        if case.matches(civil) {
            return true;
        }
        civil = civil.checked_add(1.minute()).unwrap();
    }
    false
}

/// Instants from 1970 to 2200, half of them within a day of a clock change.
fn instant_strategy() -> impl Strategy<Value = (i64, bool, i64)> {
    (0i64..7_258_118_400, any::<bool>(), -93_600i64..93_600)
}

fn resolve_instant(tz: &TimeZone, (base, near_change, delta): (i64, bool, i64)) -> Timestamp {
    let base = Timestamp::from_second(base).unwrap();
    if near_change && let Some(transition) = tz.following(base).next() {
        return transition.timestamp().checked_add(SignedDuration::from_secs(delta)).unwrap_or(base);
    }
    base
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cron_next_is_after_monotone_matching_and_equal_to_the_oracle(
        case in cron_strategy(),
        zone in prop::sample::select(ZONES.to_vec()),
        instants in prop::collection::vec(instant_strategy(), 1..4),
        step_secs in 0i64..7_200,
    ) {
        let text = case.text();
        let options = ScheduleOptions::new(Timestamp::UNIX_EPOCH).with_timezone(zone);
        let schedule = match Schedule::parse(&text, &options) {
            Ok(schedule) => schedule,
            Err(error) => {
                // The only refusal of a generated expression: a day that never occurs.
                prop_assert_eq!(error.kind(), scheduler_schedule::ScheduleErrorKind::NeverFires, "{}", error);
                return Ok(());
            }
        };
        let tz = TimeZone::get(zone).unwrap();
        for raw in instants {
            let t = resolve_instant(&tz, raw);
            let later = t.checked_add(SignedDuration::from_secs(step_secs)).unwrap();
            let next = schedule.next_after(t);
            let expected = oracle_next(&case, &tz, t);
            prop_assert_eq!(next, expected, "'{}' in {} after {}", text, zone, t);
            let Some(next) = next else { continue };
            prop_assert!(next > t);
            let civil = tz.to_datetime(next);
            prop_assert!(
                case.matches(civil) || (case.wall_clock() && is_gap_fire(&case, &tz, next)),
                "'{}' in {} fired at {} ({}), which does not match", text, zone, next, civil
            );
            // Monotone: a later question never gets an earlier answer.
            if let Some(next_later) = schedule.next_after(later) {
                prop_assert!(next_later >= next, "'{}' in {}: next({}) = {} < next({}) = {}", text, zone, later, next_later, t, next);
            }
            // The walk from a fire time finds the following one, never the same.
            if let Some(following) = schedule.next_after(next) {
                prop_assert!(following > next);
                prop_assert_eq!(Some(following), oracle_next(&case, &tz, next));
            }
        }
    }

    #[test]
    fn interval_next_is_the_first_anchored_multiple_after_t(
        every in 1u64..=10_000_000,
        anchor in 0i64..7_258_118_400,
        offset in -10_000_000_000i64..10_000_000_000,
    ) {
        let anchor = Timestamp::from_second(anchor).unwrap();
        let options = ScheduleOptions::new(anchor);
        let schedule = Schedule::parse(&format!("{every}s"), &options).unwrap();
        let t = anchor.checked_add(SignedDuration::from_secs(offset)).unwrap_or(anchor);
        let next = schedule.next_after(t).unwrap();
        prop_assert!(next > t);
        let since = next.as_second() - anchor.as_second();
        let every = i64::try_from(every).unwrap();
        prop_assert!(since >= every);
        prop_assert_eq!(since % every, 0);
        // Minimal: one period earlier is at or before t (or before the first fire).
        prop_assert!(since == every || next.as_second() - every <= t.as_second());
    }
}
