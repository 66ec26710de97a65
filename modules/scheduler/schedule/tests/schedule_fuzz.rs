//! The parser never panics: proptest over arbitrary strings, on stable Rust.
//!
//! Two generators: any Unicode string, and strings built from schedule-shaped tokens
//! (`*`, `/`, digits, names, macros, preset words, dates), which reach deep into the parser.
//! Whatever parses must keep the crate's contracts: the stored expression re-parses to itself,
//! `next_after` is strictly after its argument, and `explain` runs.
//!
//! 2,000 cases per generator by default; `SCHEDULE_FUZZ_CASES=1000000` for a long run. The
//! coverage-guided twin is `fuzz/fuzz_targets/parse.rs` (cargo-fuzz, nightly).

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use scheduler_schedule::{Schedule, ScheduleKind, ScheduleOptions, Timestamp};

fn cases() -> u32 {
    std::env::var("SCHEDULE_FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(2_000)
}

const ZONES: [&str; 4] = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"];
const TOKENS: [&str; 48] = [
    "*",
    "*",
    "/",
    "-",
    ",",
    ";",
    " ",
    " ",
    ":",
    "@",
    "0",
    "1",
    "2",
    "5",
    "7",
    "9",
    "12",
    "29",
    "30",
    "31",
    "59",
    "60",
    "99999999999",
    "L",
    "W",
    "#",
    "?",
    "mon",
    "sun",
    "jan",
    "dec",
    "@daily",
    "@hourly",
    "@yearly",
    "daily",
    "weekly",
    "monthly",
    "every",
    "last",
    "now",
    "manual",
    "2027-03-14",
    "T",
    "02:30",
    "Z",
    "+05:45",
    "h",
    "m",
];

fn kinds() -> impl Strategy<Value = Option<ScheduleKind>> {
    prop::sample::select(vec![
        None,
        Some(ScheduleKind::Cron),
        Some(ScheduleKind::Interval),
        Some(ScheduleKind::Once),
        Some(ScheduleKind::Manual),
    ])
}

fn shaped_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..16).prop_map(|tokens| tokens.concat())
}

fn probe() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (0i64..7_258_118_400).prop_map(|secs| Timestamp::from_second(secs).unwrap()),
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
        Just("4999-12-31T23:00:00Z".parse::<Timestamp>().unwrap()),
    ]
}

fn check_contracts(text: &str, zone: &str, kind: Option<ScheduleKind>, at: Timestamp) {
    let mut options = ScheduleOptions::new(at).with_timezone(zone);
    options.kind = kind;
    let Ok(schedule) = Schedule::parse(text, &options) else {
        return;
    };
    let again = Schedule::parse(schedule.expression(), &options)
        .unwrap_or_else(|error| panic!("{:?} stored {:?}, which fails: {error}", text, schedule.expression()));
    assert_eq!(again.expression(), schedule.expression(), "re-parse of {text:?}");
    if let Some(next) = schedule.next_after(at) {
        assert!(next > at, "{text:?}: next_after({at}) = {next}");
        assert_eq!(again.next_after(at), Some(next));
    }
    let _ = schedule.next_n(at, 3);
    let _ = schedule.explain(at).to_string();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_any_string(
        text in any::<String>(),
        zone in prop::sample::select(ZONES.to_vec()),
        kind in kinds(),
        at in probe(),
    ) {
        check_contracts(&text, zone, kind, at);
    }

    #[test]
    fn parse_never_panics_on_schedule_shaped_strings(
        text in shaped_text(),
        zone in prop::sample::select(ZONES.to_vec()),
        kind in kinds(),
        at in probe(),
    ) {
        check_contracts(&text, zone, kind, at);
    }
}
