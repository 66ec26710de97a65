//! The calendar edges: leap years, month ends, year boundaries, far-future dates and the
//! limits of the search (croner's year 4999, jiff's year 9999), table-driven.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use scheduler_schedule::{Schedule, ScheduleOptions, Timestamp};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn schedule(text: &str, zone: &str) -> Schedule {
    let options = ScheduleOptions::new(ts("2027-01-01T00:00:00Z")).with_timezone(zone);
    Schedule::parse(text, &options).unwrap()
}

/// Checks the next fire times (as UTC instants) of `text` in `zone` after `after`.
fn check(table: &[(&str, &str, &str, &[&str])]) {
    for (text, zone, after, expected) in table {
        let got = schedule(text, zone).next_n(ts(after), expected.len());
        let expected: Vec<Timestamp> = expected.iter().map(|at| ts(at)).collect();
        assert_eq!(got, expected, "'{text}' in {zone} after {after}");
    }
}

#[test]
fn leap_day_schedules_fire_only_in_leap_years() {
    check(&[
        (
            "0 0 29 2 *",
            "UTC",
            "2027-01-01T00:00:00Z",
            &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"],
        ),
        // 2100 is not a leap year: eight years between leap days.
        ("0 0 29 2 *", "UTC", "2097-01-01T00:00:00Z", &["2104-02-29T00:00:00Z"]),
        // 2000 and 2400 are.
        ("0 0 29 2 *", "UTC", "2399-01-01T00:00:00Z", &["2400-02-29T00:00:00Z"]),
        ("30 12 29 feb *", "America/New_York", "2027-01-01T00:00:00Z", &["2028-02-29T17:30:00Z"]),
        // The last day of February moves with leap years.
        (
            "0 0 L 2 *",
            "UTC",
            "2027-01-01T00:00:00Z",
            &["2027-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"],
        ),
        // Days 28 and 29 of February, or any Monday (Vixie OR).
        (
            "0 0 28,29 2 1",
            "UTC",
            "2028-02-20T00:00:00Z",
            &["2028-02-21T00:00:00Z", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-05T00:00:00Z"],
        ),
    ]);
}

#[test]
fn month_end_rules_are_exact() {
    check(&[
        // Plain cron skips months without the day.
        (
            "0 0 31 * *",
            "UTC",
            "2027-01-01T00:00:00Z",
            &[
                "2027-01-31T00:00:00Z",
                "2027-03-31T00:00:00Z",
                "2027-05-31T00:00:00Z",
                "2027-07-31T00:00:00Z",
                "2027-08-31T00:00:00Z",
                "2027-10-31T00:00:00Z",
                "2027-12-31T00:00:00Z",
            ],
        ),
        ("0 0 30 * *", "UTC", "2027-01-01T00:00:00Z", &["2027-01-30T00:00:00Z", "2027-03-30T00:00:00Z"]),
        // `L` is the last day of every month.
        (
            "0 0 L * *",
            "UTC",
            "2027-01-01T00:00:00Z",
            &[
                "2027-01-31T00:00:00Z",
                "2027-02-28T00:00:00Z",
                "2027-03-31T00:00:00Z",
                "2027-04-30T00:00:00Z",
                "2027-05-31T00:00:00Z",
                "2027-06-30T00:00:00Z",
            ],
        ),
        // The monthly preset on the 31st fires on the last day of short months.
        (
            "monthly 31 23:00",
            "UTC",
            "2027-01-01T00:00:00Z",
            &["2027-01-31T23:00:00Z", "2027-02-28T23:00:00Z", "2027-03-31T23:00:00Z", "2027-04-30T23:00:00Z"],
        ),
        // ... and the 30th: the 30th where it exists, the 28th/29th in February.
        (
            "monthly 30 23:00",
            "UTC",
            "2028-01-01T00:00:00Z",
            &["2028-01-30T23:00:00Z", "2028-02-29T23:00:00Z", "2028-03-30T23:00:00Z"],
        ),
        // Local zone: the last day in Sydney is still the day before in UTC.
        (
            "monthly last 09:00",
            "Australia/Sydney",
            "2027-01-01T00:00:00Z",
            &["2027-01-30T22:00:00Z", "2027-02-27T22:00:00Z"],
        ),
    ]);
}

#[test]
fn year_boundaries_are_crossed() {
    check(&[
        ("59 23 31 12 *", "UTC", "2027-06-01T00:00:00Z", &["2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z"]),
        ("@yearly", "UTC", "2027-12-31T23:59:59Z", &["2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"]),
        ("*/10 * * * *", "UTC", "2027-12-31T23:55:00Z", &["2028-01-01T00:00:00Z", "2028-01-01T00:10:00Z"]),
        // New Year in New York is 05:00 UTC.
        ("@yearly", "America/New_York", "2027-12-31T23:59:59Z", &["2028-01-01T05:00:00Z"]),
        // New Year in Lord Howe (+11:00 in summer) is still 2027 in UTC.
        ("@yearly", "Australia/Lord_Howe", "2027-06-01T00:00:00Z", &["2027-12-31T13:00:00Z"]),
        ("0 0 * * sun", "UTC", "2027-12-30T00:00:00Z", &["2028-01-02T00:00:00Z"]),
    ]);
}

#[test]
fn far_future_dates_work() {
    check(&[
        ("@daily", "UTC", "2199-12-31T12:00:00Z", &["2200-01-01T00:00:00Z", "2200-01-02T00:00:00Z"]),
        // 2199-12-31 is a Tuesday.
        (
            "0 9 * * 1-5",
            "America/New_York",
            "2199-12-31T12:00:00Z",
            &[
                "2199-12-31T14:00:00Z",
                "2200-01-01T14:00:00Z",
                "2200-01-02T14:00:00Z",
                "2200-01-03T14:00:00Z",
                "2200-01-06T14:00:00Z",
            ],
        ),
        // 2200-03-09 is a spring-forward day in New York: 02:30 fires at 03:00 EDT.
        ("30 2 * * *", "America/New_York", "2200-03-08T12:00:00Z", &["2200-03-09T07:00:00Z", "2200-03-10T06:30:00Z"]),
        ("0 0 29 2 *", "UTC", "2200-01-01T00:00:00Z", &["2204-02-29T00:00:00Z"]),
        ("1d", "UTC", "2200-01-01T00:00:00Z", &["2200-01-02T00:00:00Z"]),
    ]);
}

#[test]
fn search_limits_end_the_schedule_without_panicking() {
    // croner searches wall-clock time from instants before the year 5000.
    let daily = schedule("@daily", "UTC");
    assert_eq!(daily.next_after(ts("4999-12-31T00:00:00Z")), Some(ts("5000-01-01T00:00:00Z")));
    assert_eq!(daily.next_after(ts("5000-01-01T00:00:00Z")), None);
    assert_eq!(daily.next_after(Timestamp::MAX), None);
    assert_eq!(daily.next_n(ts("4999-12-29T00:00:00Z"), 10).len(), 3);
    let yearly = schedule("@yearly", "UTC");
    assert_eq!(yearly.next_after(ts("4999-06-01T00:00:00Z")), Some(ts("5000-01-01T00:00:00Z")));
    // The earliest instant jiff knows still has a next fire.
    assert!(daily.next_after(Timestamp::MIN).is_some());
    // Every kind near jiff's limits.
    for text in [
        "*/5 * * * *",
        "0 2 * * *",
        "0 0 29 2 *",
        "0 0 L * *",
        "monthly 30 09:00",
        "5m",
        "36525d",
        "2027-01-01 00:00",
        "now",
        "manual",
    ] {
        for zone in ["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"] {
            let schedule = schedule(text, zone);
            for at in [Timestamp::MIN, Timestamp::MAX, ts("9999-12-30T21:00:00Z"), ts("-009999-01-03T00:00:00Z")] {
                if let Some(next) = schedule.next_after(at) {
                    assert!(next > at, "'{text}' in {zone} after {at}");
                }
            }
            let _ = schedule.explain(Timestamp::MAX).to_string();
            let _ = schedule.explain(Timestamp::MIN).to_string();
        }
    }
    // One-off instants at jiff's limits are stored with extended years and re-parse.
    for anchor in [Timestamp::MIN, Timestamp::MAX] {
        let options = ScheduleOptions::new(anchor);
        let now = Schedule::parse("now", &options).unwrap();
        let again = Schedule::parse(now.expression(), &options).unwrap();
        assert_eq!(again.expression(), now.expression());
        assert_eq!(again.next_after(Timestamp::MIN), now.next_after(Timestamp::MIN));
    }
    assert_eq!(
        Schedule::parse("now", &ScheduleOptions::new(Timestamp::MIN)).unwrap().expression(),
        "-009999-01-02T01:59:59Z"
    );
    // An interval whose next multiple is past jiff's range ends.
    let options = ScheduleOptions::new(ts("9999-12-30T00:00:00Z"));
    let interval = Schedule::parse("7d", &options).unwrap();
    assert_eq!(interval.next_after(ts("9999-12-30T00:00:00Z")), None);
}
