//! Clock changes, table-driven, in America/New_York, Europe/London, Australia/Lord_Howe
//! (a 30-minute change) and Asia/Kolkata (no DST).
//!
//! The rules under test (see the crate docs for the timelines): a fixed wall-clock time that
//! does not exist fires once at the first instant after the gap; one that happens twice fires
//! once, at the first occurrence; schedules with `*` or a step in minute or hour follow
//! elapsed time and fire in both passes; intervals ignore DST.
//!
//! 2027 transitions used: New York 03-14 02:00->03:00 and 11-07 02:00->01:00; London 03-28
//! 01:00->02:00 and 10-31 02:00->01:00; Lord Howe 04-04 02:00->01:30 and 10-03 02:00->02:30.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use jiff::tz::TimeZone;
use scheduler_schedule::{Schedule, ScheduleOptions, Timestamp};

/// Fire times of `text` in `zone` after the local time `from` (read with the earlier offset
/// if ambiguous, or the exact instant when `from` carries an offset), as local
/// `YYYY-MM-DDTHH:MM+HH:MM`.
fn fires(text: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
    let tz = TimeZone::get(zone).unwrap();
    let after: Timestamp = match from.parse::<Timestamp>() {
        Ok(at) => at,
        Err(_) => from.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz.clone()).unwrap().timestamp(),
    };
    let options = ScheduleOptions::new("2027-03-14T05:00:00Z".parse().unwrap()).with_timezone(zone);
    let schedule = Schedule::parse(text, &options).unwrap();
    schedule
        .next_n(after, n)
        .into_iter()
        .map(|at| at.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M%:z").to_string())
        .collect()
}

fn check(table: &[(&str, &str, &str, &[&str])]) {
    for (text, zone, from, expected) in table {
        let got = fires(text, zone, from, expected.len());
        assert_eq!(got, *expected, "'{text}' in {zone} after {from}");
    }
}

#[test]
fn spring_forward_fixed_times_fire_once_at_the_end_of_the_gap() {
    let ny = "America/New_York";
    check(&[
        ("30 2 * * *", ny, "2027-03-13T12:00", &["2027-03-14T03:00-04:00", "2027-03-15T02:30-04:00"]),
        ("0 2 * * *", ny, "2027-03-13T12:00", &["2027-03-14T03:00-04:00", "2027-03-15T02:00-04:00"]),
        ("59 2 * * *", ny, "2027-03-13T12:00", &["2027-03-14T03:00-04:00", "2027-03-15T02:59-04:00"]),
        // A list of hours is still a fixed time (croner alone would skip the 02:30 run).
        (
            "30 2,14 * * *",
            ny,
            "2027-03-13T15:00",
            &["2027-03-14T03:00-04:00", "2027-03-14T14:30-04:00", "2027-03-15T02:30-04:00"],
        ),
        // Several times in one gap fire once together.
        (
            "0,30 2 * * *",
            ny,
            "2027-03-13T12:00",
            &["2027-03-14T03:00-04:00", "2027-03-15T02:00-04:00", "2027-03-15T02:30-04:00"],
        ),
        // ... also with a real 03:00 at the same instant.
        (
            "0,30 2,3 * * *",
            ny,
            "2027-03-13T12:00",
            &["2027-03-14T03:00-04:00", "2027-03-14T03:30-04:00", "2027-03-15T02:00-04:00"],
        ),
        // Asked from inside the new hour, the gap run is already past.
        ("30 2 * * *", ny, "2027-03-14T03:00", &["2027-03-15T02:30-04:00"]),
        ("30 1 * * *", "Europe/London", "2027-03-27T12:00", &["2027-03-28T02:00+01:00", "2027-03-29T01:30+01:00"]),
        ("0 1 * * *", "Europe/London", "2027-03-27T12:00", &["2027-03-28T02:00+01:00"]),
        // Lord Howe skips 02:00-02:30 only.
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2027-10-02T12:00",
            &["2027-10-03T02:30+11:00", "2027-10-04T02:15+11:00"],
        ),
        ("45 2 * * *", "Australia/Lord_Howe", "2027-10-02T12:00", &["2027-10-03T02:45+11:00"]),
        // A local one-off time in the gap.
        ("2027-03-14 02:30", ny, "2027-03-13T12:00", &["2027-03-14T03:00-04:00"]),
    ]);
}

#[test]
fn spring_forward_elapsed_time_schedules_skip_the_missing_times() {
    let ny = "America/New_York";
    check(&[
        (
            "*/30 * * * *",
            ny,
            "2027-03-14T01:00",
            &["2027-03-14T01:30-05:00", "2027-03-14T03:00-04:00", "2027-03-14T03:30-04:00"],
        ),
        ("30 * * * *", ny, "2027-03-14T01:00", &["2027-03-14T01:30-05:00", "2027-03-14T03:30-04:00"]),
        ("@hourly", ny, "2027-03-14T00:30", &["2027-03-14T01:00-05:00", "2027-03-14T03:00-04:00"]),
        ("0 */2 * * *", ny, "2027-03-14T00:30", &["2027-03-14T04:00-04:00"]),
        ("*/30 2 * * *", ny, "2027-03-13T12:00", &["2027-03-15T02:00-04:00"]),
        (
            "*/15 * * * *",
            "Australia/Lord_Howe",
            "2027-10-03T01:50",
            &["2027-10-03T02:30+11:00", "2027-10-03T02:45+11:00"],
        ),
        ("*/20 * * * *", "Europe/London", "2027-03-28T00:30", &["2027-03-28T00:40+00:00", "2027-03-28T02:00+01:00"]),
    ]);
}

#[test]
fn fall_back_fixed_times_fire_once_at_the_first_occurrence() {
    let ny = "America/New_York";
    check(&[
        ("30 1 * * *", ny, "2027-11-06T12:00", &["2027-11-07T01:30-04:00", "2027-11-08T01:30-05:00"]),
        ("0 1 * * *", ny, "2027-11-06T12:00", &["2027-11-07T01:00-04:00", "2027-11-08T01:00-05:00"]),
        // A list of hours is still a fixed time (croner alone would run 01:30 twice).
        (
            "30 1,13 * * *",
            ny,
            "2027-11-06T14:00",
            &["2027-11-07T01:30-04:00", "2027-11-07T13:30-05:00", "2027-11-08T01:30-05:00"],
        ),
        (
            "0,30 1 * * *",
            ny,
            "2027-11-06T12:00",
            &["2027-11-07T01:00-04:00", "2027-11-07T01:30-04:00", "2027-11-08T01:00-05:00"],
        ),
        // Asked from inside the second pass: the repeated 01:30 does not fire again.
        ("30 1 * * *", ny, "2027-11-07T06:10:00Z", &["2027-11-08T01:30-05:00"]),
        ("45 1 * * *", ny, "2027-11-07T06:10:00Z", &["2027-11-08T01:45-05:00"]),
        ("30 1 * * *", "Europe/London", "2027-10-30T12:00", &["2027-10-31T01:30+01:00", "2027-11-01T01:30+00:00"]),
        (
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2027-04-03T12:00",
            &["2027-04-04T01:45+11:00", "2027-04-05T01:45+10:30"],
        ),
        ("2027-11-07 01:30", ny, "2027-11-06T12:00", &["2027-11-07T01:30-04:00"]),
    ]);
}

#[test]
fn fall_back_elapsed_time_schedules_fire_in_both_passes() {
    let ny = "America/New_York";
    check(&[
        (
            "*/30 * * * *",
            ny,
            "2027-11-07T00:45",
            &[
                "2027-11-07T01:00-04:00",
                "2027-11-07T01:30-04:00",
                "2027-11-07T01:00-05:00",
                "2027-11-07T01:30-05:00",
                "2027-11-07T02:00-05:00",
            ],
        ),
        (
            "30 * * * *",
            ny,
            "2027-11-07T00:45",
            &["2027-11-07T01:30-04:00", "2027-11-07T01:30-05:00", "2027-11-07T02:30-05:00"],
        ),
        (
            "* 1 * * *",
            ny,
            "2027-11-07T05:58:00Z",
            &["2027-11-07T01:59-04:00", "2027-11-07T01:00-05:00", "2027-11-07T01:01-05:00"],
        ),
        // Asked late in the first pass: the second pass comes next, not 02:00.
        (
            "*/30 * * * *",
            ny,
            "2027-11-07T05:45:00Z",
            &["2027-11-07T01:00-05:00", "2027-11-07T01:30-05:00", "2027-11-07T02:00-05:00"],
        ),
        (
            "*/15 * * * *",
            "Australia/Lord_Howe",
            "2027-04-04T01:20",
            &[
                "2027-04-04T01:30+11:00",
                "2027-04-04T01:45+11:00",
                "2027-04-04T01:30+10:30",
                "2027-04-04T01:45+10:30",
                "2027-04-04T02:00+10:30",
            ],
        ),
        (
            "*/30 * * * *",
            "Europe/London",
            "2027-10-31T00:45",
            &[
                "2027-10-31T01:00+01:00",
                "2027-10-31T01:30+01:00",
                "2027-10-31T01:00+00:00",
                "2027-10-31T01:30+00:00",
                "2027-10-31T02:00+00:00",
            ],
        ),
    ]);
}

#[test]
fn intervals_are_absolute_and_ignore_dst() {
    let ny = "America/New_York";
    // Anchored at 2027-03-14T00:00-05:00 (05:00Z).
    check(&[
        ("1h", ny, "2027-03-14T00:30", &["2027-03-14T01:00-05:00", "2027-03-14T03:00-04:00", "2027-03-14T04:00-04:00"]),
        ("1d", ny, "2027-03-14T00:30", &["2027-03-15T01:00-04:00"]),
    ]);
}

#[test]
fn a_zone_without_dst_is_regular_all_year() {
    let kolkata = "Asia/Kolkata";
    check(&[
        ("30 2 * * *", kolkata, "2027-03-13T12:00", &["2027-03-14T02:30+05:30", "2027-03-15T02:30+05:30"]),
        ("30 1 * * *", kolkata, "2027-11-06T12:00", &["2027-11-07T01:30+05:30", "2027-11-08T01:30+05:30"]),
        (
            "*/30 * * * *",
            kolkata,
            "2027-11-07T00:45",
            &["2027-11-07T01:00+05:30", "2027-11-07T01:30+05:30", "2027-11-07T02:00+05:30"],
        ),
    ]);
}

#[test]
fn the_same_instant_fires_in_every_zone_at_its_own_wall_clock() {
    let table = [
        ("UTC", "2027-06-01T09:00:00Z"),
        ("Europe/London", "2027-06-01T08:00:00Z"),
        ("America/New_York", "2027-06-01T13:00:00Z"),
        ("Asia/Kolkata", "2027-06-01T03:30:00Z"),
        ("Australia/Lord_Howe", "2027-05-31T22:30:00Z"),
    ];
    for (zone, expected) in table {
        let options = ScheduleOptions::new("2027-01-01T00:00:00Z".parse().unwrap()).with_timezone(zone);
        let schedule = Schedule::parse("0 9 1 6 *", &options).unwrap();
        let got = schedule.next_after("2027-05-01T00:00:00Z".parse().unwrap());
        assert_eq!(got, Some(expected.parse().unwrap()), "{zone}");
    }
}
