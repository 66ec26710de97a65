//! Fuzz target: `Schedule::parse` never panics, on any bytes, in any kind or zone.
//!
//! For every text that parses it also checks the crate's contracts: the stored expression
//! re-parses to the same expression, `next_after` is strictly after its argument, and
//! `explain` runs. Run it with `cargo +nightly fuzz run parse` from the crate directory
//! (see `fuzz/README.md`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_schedule::{Schedule, ScheduleKind, ScheduleOptions, Timestamp};

const ZONES: [&str; 6] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
];
const KINDS: [Option<ScheduleKind>; 5] = [
    None,
    Some(ScheduleKind::Cron),
    Some(ScheduleKind::Interval),
    Some(ScheduleKind::Once),
    Some(ScheduleKind::Manual),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let zone = ZONES[usize::from(selector) % ZONES.len()];
    let kind = KINDS[usize::from(selector / 8) % KINDS.len()];
    // The anchor and the probe instant come from the selector too, so far-future and
    // far-past instants are covered.
    let probes = [
        "2027-03-14T06:59:00Z",
        "2027-11-07T05:59:00Z",
        "1970-01-01T00:00:00Z",
        "2199-12-31T23:59:00Z",
        "4999-12-31T23:00:00Z",
        "9999-12-30T00:00:00Z",
    ];
    let probe: Timestamp = probes[usize::from(selector / 40) % probes.len()]
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    // The anchor (what `now` and intervals use) is the probe, or one of jiff's limits.
    let anchor = match selector % 7 {
        5 => Timestamp::MIN,
        6 => Timestamp::MAX,
        _ => probe,
    };
    let mut options = ScheduleOptions::new(anchor);
    options.timezone = Some(zone.to_owned());
    options.kind = kind;
    let Ok(schedule) = Schedule::parse(&text, &options) else {
        return;
    };
    let again = Schedule::parse(schedule.expression(), &options)
        .expect("a stored expression re-parses with the same options");
    assert_eq!(again.expression(), schedule.expression());
    assert_eq!(again.kind(), schedule.kind());
    for at in [probe, Timestamp::MIN, Timestamp::MAX] {
        if let Some(next) = schedule.next_after(at) {
            assert!(next > at, "next_after({at}) = {next} for {text:?}");
            assert_eq!(again.next_after(at), Some(next));
        }
    }
    let _ = schedule.next_n(probe, 3);
    let _ = schedule.explain(probe).to_string();
});
