//! Every accepted syntax form, table-driven: the kind it parses to, the expression it stores,
//! and its first fire times from a fixed instant.
//!
//! Each row is checked by one helper, `check`. Times are written in the schedule's zone so the
//! table reads like a calendar.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use scheduler_schedule::{MonthDay, Preset, Schedule, ScheduleKind, ScheduleOptions, TimeOfDay, Timestamp, Weekday};

/// Friday 2027-01-01 00:00 UTC.
const FROM: &str = "2027-01-01T00:00:00Z";

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn options(zone: &str) -> ScheduleOptions {
    ScheduleOptions::new(ts(FROM)).with_timezone(zone)
}

/// Parses `text` in UTC, then checks kind, stored expression, the next fire times after
/// [`FROM`] (as `YYYY-MM-DDTHH:MM` in UTC) and that the expression re-parses to the same fires.
fn check(text: &str, kind: ScheduleKind, expression: &str, fires: &[&str]) {
    let options = options("UTC");
    let schedule = Schedule::parse(text, &options).unwrap_or_else(|error| panic!("'{text}' should parse: {error}"));
    assert_eq!(schedule.kind(), kind, "kind of '{text}'");
    assert_eq!(schedule.expression(), expression, "expression of '{text}'");
    let got: Vec<String> =
        schedule.next_n(ts(FROM), fires.len()).iter().map(|at| at.strftime("%Y-%m-%dT%H:%M").to_string()).collect();
    assert_eq!(got, fires, "fire times of '{text}'");
    let again = Schedule::parse(schedule.expression(), &options).unwrap();
    assert_eq!(again.expression(), expression, "re-parse of '{text}'");
    assert_eq!(again.next_n(ts(FROM), fires.len()), schedule.next_n(ts(FROM), fires.len()));
}

#[test]
fn cron_fields_accept_every_standard_form() {
    use ScheduleKind::Cron;
    let table: &[(&str, &str, &[&str])] = &[
        // `*` everywhere: every minute.
        ("* * * * *", "* * * * *", &["2027-01-01T00:01", "2027-01-01T00:02"]),
        // A single value per field.
        ("30 2 * * *", "30 2 * * *", &["2027-01-01T02:30", "2027-01-02T02:30"]),
        // `*/n` step.
        ("*/15 * * * *", "*/15 * * * *", &["2027-01-01T00:15", "2027-01-01T00:30", "2027-01-01T00:45"]),
        // `a-b` range.
        (
            "0 9-11 * * *",
            "0 9-11 * * *",
            &["2027-01-01T09:00", "2027-01-01T10:00", "2027-01-01T11:00", "2027-01-02T09:00"],
        ),
        // `a-b/n` stepped range.
        (
            "10-50/20 0 * * *",
            "10-50/20 0 * * *",
            &["2027-01-01T00:10", "2027-01-01T00:30", "2027-01-01T00:50", "2027-01-02T00:10"],
        ),
        // Lists mixing values, ranges and steps.
        (
            "0,5-6,*/30 1 * * *",
            "0,5-6,*/30 1 * * *",
            &["2027-01-01T01:00", "2027-01-01T01:05", "2027-01-01T01:06", "2027-01-01T01:30"],
        ),
        // Leading zeros and extra spaces are fine.
        ("  05   04 * *   * ", "05 04 * * *", &["2027-01-01T04:05"]),
        // Day-of-month and month.
        ("0 0 15 3 *", "0 0 15 3 *", &["2027-03-15T00:00", "2028-03-15T00:00"]),
        // Month names, any case.
        ("0 0 1 JAN,jul *", "0 0 1 jan,jul *", &["2027-07-01T00:00", "2028-01-01T00:00"]),
        (
            "0 0 1 feb-apr *",
            "0 0 1 feb-apr *",
            &["2027-02-01T00:00", "2027-03-01T00:00", "2027-04-01T00:00", "2028-02-01T00:00"],
        ),
        // Weekday numbers: 2027-01-03 is a Sunday.
        ("0 12 * * 0", "0 12 * * 0", &["2027-01-03T12:00", "2027-01-10T12:00"]),
        ("0 12 * * 7", "0 12 * * 7", &["2027-01-03T12:00", "2027-01-10T12:00"]),
        ("0 12 * * 1-5", "0 12 * * 1-5", &["2027-01-01T12:00", "2027-01-04T12:00", "2027-01-05T12:00"]),
        // `5-7` runs Friday to Sunday through 7.
        (
            "0 12 * * 5-7",
            "0 12 * * 5-7",
            &["2027-01-01T12:00", "2027-01-02T12:00", "2027-01-03T12:00", "2027-01-08T12:00"],
        ),
        // Weekday names; `sun` closing a range is 7.
        ("0 12 * * Mon,WED", "0 12 * * mon,wed", &["2027-01-04T12:00", "2027-01-06T12:00", "2027-01-11T12:00"]),
        (
            "0 12 * * fri-sun",
            "0 12 * * fri-sun",
            &["2027-01-01T12:00", "2027-01-02T12:00", "2027-01-03T12:00", "2027-01-08T12:00"],
        ),
        (
            "0 12 * * sun-tue",
            "0 12 * * sun-tue",
            &["2027-01-03T12:00", "2027-01-04T12:00", "2027-01-05T12:00", "2027-01-10T12:00"],
        ),
        // `*/2` weekdays: Sunday, Tuesday, Thursday, Saturday.
        (
            "0 12 * * */2",
            "0 12 * * */2",
            &["2027-01-02T12:00", "2027-01-03T12:00", "2027-01-05T12:00", "2027-01-07T12:00"],
        ),
        // `L`: the last day of the month.
        ("0 0 L * *", "0 0 L * *", &["2027-01-31T00:00", "2027-02-28T00:00", "2027-03-31T00:00", "2027-04-30T00:00"]),
        (
            "0 0 15,l * *",
            "0 0 15,L * *",
            &["2027-01-15T00:00", "2027-01-31T00:00", "2027-02-15T00:00", "2027-02-28T00:00"],
        ),
        // A union of expressions fires when any does.
        (
            "0 6 * * 1; 0 18 * * 5",
            "0 6 * * 1; 0 18 * * 5",
            &["2027-01-01T18:00", "2027-01-04T06:00", "2027-01-08T18:00"],
        ),
        ("0 6 * * *;0 6 * * *", "0 6 * * *; 0 6 * * *", &["2027-01-01T06:00", "2027-01-02T06:00"]),
    ];
    for (text, expression, fires) in table {
        check(text, Cron, expression, fires);
    }
}

#[test]
fn day_of_month_and_day_of_week_follow_vixie_cron() {
    use ScheduleKind::Cron;
    let table: &[(&str, &[&str])] = &[
        // Both restricted: either matches (1st, 15th, or any Monday).
        (
            "0 0 1,15 * mon",
            &[
                "2027-01-04T00:00",
                "2027-01-11T00:00",
                "2027-01-15T00:00",
                "2027-01-18T00:00",
                "2027-01-25T00:00",
                "2027-02-01T00:00",
            ],
        ),
        // Day-of-week `*`: only the day-of-month counts.
        ("0 0 13 * *", &["2027-01-13T00:00", "2027-02-13T00:00"]),
        // Day-of-month `*`: only the day-of-week counts.
        ("0 0 * * 5", &["2027-01-08T00:00", "2027-01-15T00:00"]),
        // Day-of-month starts with `*`: both must match (odd days that are Fridays).
        ("0 0 */2 * 5", &["2027-01-15T00:00", "2027-01-29T00:00", "2027-02-05T00:00", "2027-02-19T00:00"]),
        // Friday the 13th needs both restricted... which Vixie reads as OR.
        ("0 0 13 * 5", &["2027-01-08T00:00", "2027-01-13T00:00", "2027-01-15T00:00", "2027-01-22T00:00"]),
    ];
    for (text, fires) in table {
        check(text, Cron, text, fires);
    }
}

#[test]
fn every_macro_expands_to_its_cron_expression() {
    use ScheduleKind::Cron;
    let table: &[(&str, &str, &[&str])] = &[
        ("@yearly", "@yearly", &["2028-01-01T00:00", "2029-01-01T00:00"]),
        ("@annually", "@annually", &["2028-01-01T00:00"]),
        ("@monthly", "@monthly", &["2027-02-01T00:00", "2027-03-01T00:00"]),
        // 2027-01-03 is the first Sunday.
        ("@weekly", "@weekly", &["2027-01-03T00:00", "2027-01-10T00:00"]),
        ("@daily", "@daily", &["2027-01-02T00:00", "2027-01-03T00:00"]),
        ("@midnight", "@midnight", &["2027-01-02T00:00", "2027-01-03T00:00"]),
        ("@hourly", "@hourly", &["2027-01-01T01:00", "2027-01-01T02:00"]),
        ("@DAILY", "@daily", &["2027-01-02T00:00"]),
    ];
    for (text, expression, fires) in table {
        check(text, Cron, expression, fires);
    }
}

#[test]
fn intervals_are_anchored_exact_durations() {
    use ScheduleKind::Interval;
    let table: &[(&str, &str, &[&str])] = &[
        ("30s", "30s", &["2027-01-01T00:00", "2027-01-01T00:01"]),
        ("5m", "5m", &["2027-01-01T00:05", "2027-01-01T00:10"]),
        ("2h", "2h", &["2027-01-01T02:00", "2027-01-01T04:00"]),
        ("1d", "1d", &["2027-01-02T00:00", "2027-01-03T00:00"]),
        ("1w", "7d", &["2027-01-08T00:00"]),
        ("1h30m", "1h30m", &["2027-01-01T01:30", "2027-01-01T03:00"]),
        ("1h 30m", "1h30m", &["2027-01-01T01:30"]),
        ("90 minutes", "1h30m", &["2027-01-01T01:30"]),
        ("1.5h", "1h30m", &["2027-01-01T01:30"]),
        ("1d2h3m4s", "1d2h3m4s", &["2027-01-02T02:03"]),
        ("3600s", "1h", &["2027-01-01T01:00"]),
    ];
    for (text, expression, fires) in table {
        check(text, Interval, expression, fires);
    }
}

#[test]
fn interval_fires_at_anchor_plus_whole_multiples_and_never_drifts() {
    let anchor = ts("2027-01-01T00:00:07Z");
    let schedule = Schedule::parse("5m", &ScheduleOptions::new(anchor)).unwrap();
    // Before the anchor: the first multiple, k = 1.
    assert_eq!(schedule.next_after(ts("2026-01-01T00:00:00Z")), Some(ts("2027-01-01T00:05:07Z")));
    // At the anchor: strictly after, so k = 1.
    assert_eq!(schedule.next_after(anchor), Some(ts("2027-01-01T00:05:07Z")));
    // Exactly on a multiple: the next one.
    assert_eq!(schedule.next_after(ts("2027-01-01T00:10:07Z")), Some(ts("2027-01-01T00:15:07Z")));
    // Late by a few seconds (a slow tick): still on the grid, no drift.
    assert_eq!(schedule.next_after(ts("2027-01-01T00:10:09Z")), Some(ts("2027-01-01T00:15:07Z")));
    // A year later, still on the grid.
    assert_eq!(schedule.next_after(ts("2028-01-01T00:00:00Z")), Some(ts("2028-01-01T00:00:07Z")));
}

#[test]
fn one_off_times_accept_rfc3339_local_times_and_now() {
    let anchor = ts(FROM);
    let table: &[(&str, &str, &str)] = &[
        // (text, zone, stored RFC 3339 instant)
        ("2027-01-05T09:30:00Z", "UTC", "2027-01-05T09:30:00Z"),
        ("2027-01-05T09:30:00+01:00", "UTC", "2027-01-05T08:30:00Z"),
        ("2027-01-05T09:30:00+01:00[Europe/Paris]", "UTC", "2027-01-05T08:30:00Z"),
        ("2027-01-05 09:30", "UTC", "2027-01-05T09:30:00Z"),
        ("2027-01-05T09:30", "Europe/Berlin", "2027-01-05T08:30:00Z"),
        ("2027-01-05 09:30:15", "America/New_York", "2027-01-05T14:30:15Z"),
        ("2027-07-05 09:30", "America/New_York", "2027-07-05T13:30:00Z"),
        ("now", "UTC", "2027-01-01T00:00:00Z"),
        ("NOW", "Asia/Tokyo", "2027-01-01T00:00:00Z"),
    ];
    for (text, zone, stored) in table {
        let options = options(zone);
        let schedule = Schedule::parse(text, &options).unwrap();
        assert_eq!(schedule.kind(), ScheduleKind::Once, "{text}");
        assert_eq!(schedule.expression(), *stored, "{text}");
        let at = ts(stored);
        // Fires once: at the instant, and never again.
        assert_eq!(schedule.next_after(at.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap()), Some(at));
        assert_eq!(schedule.next_after(at), None);
        // The stored instant re-parses to the same schedule.
        let again = Schedule::parse(schedule.expression(), &options).unwrap();
        assert_eq!(again.expression(), *stored);
    }
    // `now` fires at the anchor, so strictly before it.
    let now = Schedule::parse("now", &options("UTC")).unwrap();
    assert_eq!(now.next_after(anchor.checked_sub(jiff::SignedDuration::from_nanos(1)).unwrap()), Some(anchor));
}

#[test]
fn forced_kinds_are_honoured() {
    let anchor = ts(FROM);
    let once = ScheduleOptions::new(anchor).with_kind(ScheduleKind::Once);
    // `--once 10m`: ten minutes after the anchor.
    let delayed = Schedule::parse("10m", &once).unwrap();
    assert_eq!(delayed.kind(), ScheduleKind::Once);
    assert_eq!(delayed.expression(), "2027-01-01T00:10:00Z");
    assert_eq!(Schedule::parse("now", &once).unwrap().expression(), "2027-01-01T00:00:00Z");
    // Manual accepts any text and stores `manual`.
    let manual = ScheduleOptions::new(anchor).with_kind(ScheduleKind::Manual);
    for text in ["manual", "", "0 2 * * *"] {
        let schedule = Schedule::parse(text, &manual).unwrap();
        assert_eq!(schedule.kind(), ScheduleKind::Manual);
        assert_eq!(schedule.expression(), "manual");
        assert_eq!(schedule.next_after(anchor), None);
    }
    let cron = ScheduleOptions::new(anchor).with_kind(ScheduleKind::Cron);
    assert_eq!(Schedule::parse("daily 02:30", &cron).unwrap().expression(), "30 2 * * *");
    let interval = ScheduleOptions::new(anchor).with_kind(ScheduleKind::Interval);
    assert_eq!(Schedule::parse("every 15m", &interval).unwrap().expression(), "15m");
}

#[test]
fn manual_never_fires_by_itself() {
    let schedule = Schedule::parse("manual", &options("UTC")).unwrap();
    assert_eq!(schedule.kind(), ScheduleKind::Manual);
    assert_eq!(schedule.expression(), "manual");
    assert_eq!(schedule.next_after(Timestamp::MIN), None);
    assert!(schedule.next_n(ts(FROM), 5).is_empty());
}

#[test]
fn text_presets_become_canonical_cron_or_interval() {
    let table: &[(&str, ScheduleKind, &str, &[&str])] = &[
        ("daily 02:30", ScheduleKind::Cron, "30 2 * * *", &["2027-01-01T02:30", "2027-01-02T02:30"]),
        ("Daily at 2:30", ScheduleKind::Cron, "30 2 * * *", &["2027-01-01T02:30"]),
        ("weekdays 09:00", ScheduleKind::Cron, "0 9 * * 1-5", &["2027-01-01T09:00", "2027-01-04T09:00"]),
        ("weekly mon 09:00", ScheduleKind::Cron, "0 9 * * 1", &["2027-01-04T09:00", "2027-01-11T09:00"]),
        ("weekly on Sunday at 23:59", ScheduleKind::Cron, "59 23 * * 0", &["2027-01-03T23:59"]),
        ("monthly 1 00:00", ScheduleKind::Cron, "0 0 1 * *", &["2027-02-01T00:00"]),
        ("monthly 15 12:00", ScheduleKind::Cron, "0 12 15 * *", &["2027-01-15T12:00", "2027-02-15T12:00"]),
        // The month-end rule: months without the day fire on their last day.
        (
            "monthly 31 23:00",
            ScheduleKind::Cron,
            "0 23 L * *",
            &["2027-01-31T23:00", "2027-02-28T23:00", "2027-03-31T23:00", "2027-04-30T23:00"],
        ),
        ("monthly last 23:00", ScheduleKind::Cron, "0 23 L * *", &["2027-01-31T23:00", "2027-02-28T23:00"]),
        (
            "monthly 30 08:00",
            ScheduleKind::Cron,
            "0 8 30 1,3-12 *; 0 8 L 2 *",
            &["2027-01-30T08:00", "2027-02-28T08:00", "2027-03-30T08:00", "2027-04-30T08:00"],
        ),
        (
            "monthly 29 08:00",
            ScheduleKind::Cron,
            "0 8 29 1,3-12 *; 0 8 L 2 *",
            &["2027-01-29T08:00", "2027-02-28T08:00", "2027-03-29T08:00"],
        ),
        ("every 15m", ScheduleKind::Interval, "15m", &["2027-01-01T00:15", "2027-01-01T00:30"]),
        ("every 2 hours", ScheduleKind::Interval, "2h", &["2027-01-01T02:00"]),
        ("every 1d", ScheduleKind::Interval, "1d", &["2027-01-02T00:00"]),
    ];
    for (text, kind, expression, fires) in table {
        check(text, *kind, expression, fires);
    }
}

#[test]
fn monthly_preset_on_the_29th_fires_on_29_february_in_leap_years() {
    let schedule = Schedule::parse("monthly 29 08:00", &options("UTC")).unwrap();
    let got = schedule.next_n(ts("2028-02-01T00:00:00Z"), 2);
    assert_eq!(got, vec![ts("2028-02-29T08:00:00Z"), ts("2028-03-29T08:00:00Z")]);
    let thirty = Schedule::parse("monthly 30 08:00", &options("UTC")).unwrap();
    assert_eq!(thirty.next_after(ts("2028-02-01T00:00:00Z")), Some(ts("2028-02-29T08:00:00Z")));
}

#[test]
fn preset_api_builds_the_same_schedules_as_the_text() {
    let at = TimeOfDay::new(9, 5).unwrap();
    let table = [
        (Preset::Daily { at }, "5 9 * * *"),
        (Preset::Weekdays { at }, "5 9 * * 1-5"),
        (Preset::Weekly { day: Weekday::Sunday, at }, "5 9 * * 0"),
        (Preset::Weekly { day: Weekday::Saturday, at }, "5 9 * * 6"),
        (Preset::Monthly { day: MonthDay::Day(28), at }, "5 9 28 * *"),
        (Preset::Monthly { day: MonthDay::Day(30), at }, "5 9 30 1,3-12 *; 5 9 L 2 *"),
        (Preset::Monthly { day: MonthDay::Day(31), at }, "5 9 L * *"),
        (Preset::Monthly { day: MonthDay::Last, at }, "5 9 L * *"),
        (Preset::Every(std::time::Duration::from_secs(5400)), "1h30m"),
    ];
    for (preset, expression) in table {
        assert_eq!(preset.expression().unwrap(), expression);
        let schedule = Schedule::from_preset(&preset, &options("Europe/Berlin")).unwrap();
        assert_eq!(schedule.expression(), expression);
        assert_eq!(schedule.timezone(), "Europe/Berlin");
    }
    assert_eq!(
        Preset::parse("weekly fri 17:45").unwrap(),
        Preset::Weekly { day: Weekday::Friday, at: TimeOfDay::new(17, 45).unwrap() }
    );
    assert_eq!(TimeOfDay::new(24, 0).unwrap_err().to_string(), "time of day must be 00:00-23:59, got 24:00");
    assert_eq!(
        Preset::Monthly { day: MonthDay::Day(0), at }.expression().unwrap_err().to_string(),
        "monthly day must be 1-31 or 'last', got 0"
    );
    assert_eq!(
        Preset::Every(std::time::Duration::ZERO).expression().unwrap_err().to_string(),
        "interval must be greater than zero, got '0s'"
    );
}

#[test]
fn kind_names_round_trip() {
    for kind in [ScheduleKind::Cron, ScheduleKind::Interval, ScheduleKind::Once, ScheduleKind::Manual] {
        assert_eq!(ScheduleKind::from_name(kind.as_str()), Some(kind));
    }
    assert_eq!(ScheduleKind::from_name("weekly"), None);
}

#[test]
fn time_zone_names_are_canonical_and_default_to_utc() {
    let anchor = ts(FROM);
    let utc = Schedule::parse("@daily", &ScheduleOptions::new(anchor)).unwrap();
    assert_eq!(utc.timezone(), "UTC");
    let berlin = Schedule::parse("@daily", &options("Europe/Berlin")).unwrap();
    assert_eq!(berlin.timezone(), "Europe/Berlin");
    assert_eq!(berlin.next_after(anchor), Some(ts("2027-01-01T23:00:00Z")));
}

#[test]
fn schedule_is_clone_send_sync_and_debug() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug>() {}
    assert_traits::<Schedule>();
    assert_traits::<scheduler_schedule::ScheduleError>();
}
