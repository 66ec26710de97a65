//! Every refusal, table-driven, with its exact message and error kind.
//!
//! The messages are part of the product (`scheduler:validate` prints them), so they are
//! pinned here word for word.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use scheduler_schedule::{Schedule, ScheduleErrorKind, ScheduleKind, ScheduleOptions, Timestamp};

fn check(text: &str, options: &ScheduleOptions, kind: ScheduleErrorKind, message: &str) {
    let error = match Schedule::parse(text, options) {
        Ok(schedule) => panic!("'{text}' should be refused, got {:?}", schedule.expression()),
        Err(error) => error,
    };
    assert_eq!(error.to_string(), message, "message for '{text}'");
    assert_eq!(error.message(), message);
    assert_eq!(error.kind(), kind, "kind for '{text}'");
}

fn utc() -> ScheduleOptions {
    ScheduleOptions::new("2027-01-01T00:00:00Z".parse::<Timestamp>().unwrap())
}

#[test]
fn cron_field_errors_name_the_field_the_rule_and_the_value() {
    use ScheduleErrorKind::CronField;
    let table: &[(&str, &str)] = &[
        ("0 2 * * 9", "day-of-week must be 0-7, got 9 (field 5 of '0 2 * * 9')"),
        ("60 * * * *", "minute must be 0-59, got 60 (field 1 of '60 * * * *')"),
        ("0 24 * * *", "hour must be 0-23, got 24 (field 2 of '0 24 * * *')"),
        ("0 0 0 * *", "day-of-month must be 1-31, got 0 (field 3 of '0 0 0 * *')"),
        ("0 0 32 * *", "day-of-month must be 1-31, got 32 (field 3 of '0 0 32 * *')"),
        ("0 0 * 13 *", "month must be 1-12, got 13 (field 4 of '0 0 * 13 *')"),
        ("0 0 * 0 *", "month must be 1-12, got 0 (field 4 of '0 0 * 0 *')"),
        ("99999999999 * * * *", "minute must be 0-59, got 99999999999 (field 1 of '99999999999 * * * *')"),
        ("*/0 * * * *", "step in minute must be 1-59, got '0' (field 1 of '*/0 * * * *')"),
        ("*/60 * * * *", "step in minute must be 1-59, got '60' (field 1 of '*/60 * * * *')"),
        ("0 */x * * *", "step in hour must be 1-23, got 'x' (field 2 of '0 */x * * *')"),
        ("0 0 * * */7", "step in day-of-week must be 1-6, got '7' (field 5 of '0 0 * * */7')"),
        ("*/5/2 * * * *", "step in minute must be 1-59, got '5/2' (field 1 of '*/5/2 * * * *')"),
        (
            "5/10 * * * *",
            "a step needs a range or '*' in minute: write '*/10' or '5-59/10', got '5/10' (field 1 of '5/10 * * * *')",
        ),
        ("5-1 * * * *", "range 5-1 in minute runs backwards; ranges go from low to high (field 1 of '5-1 * * * *')"),
        (
            "0 0 * * fri-mon",
            "range fri-mon in day-of-week runs backwards; ranges go from low to high, and 7 is Sunday (e.g. 5-7 for Friday to Sunday) (field 5 of '0 0 * * fri-mon')",
        ),
        ("-5 * * * *", "minute must be 0-59, got '-5' (field 1 of '-5 * * * *')"),
        ("1,,2 * * * *", "minute has an empty list item in '1,,2' (field 1 of '1,,2 * * * *')"),
        ("1, * * * *", "minute has an empty list item in '1,' (field 1 of '1, * * * *')"),
        ("? * * * *", "'?' is Quartz syntax, not cron; write '*' in minute (field 1 of '? * * * *')"),
        ("0 0 ? * 1", "'?' is Quartz syntax, not cron; write '*' in day-of-month (field 3 of '0 0 ? * 1')"),
        ("0 0 15W * *", "'W' (nearest weekday) is not supported in day-of-month, got '15W' (field 3 of '0 0 15W * *')"),
        (
            "0 0 * * 5#3",
            "'#' (nth weekday of the month) is not supported; day-of-week takes numbers, names, ranges, steps and lists, got '5#3' (field 5 of '0 0 * * 5#3')",
        ),
        (
            "0 0 * * L",
            "'L' (last day of the month) is only allowed in day-of-month, got it in day-of-week (field 5 of '0 0 * * L')",
        ),
        ("0 0 * * 5L", "day-of-week must be a number 0-7 or a name, got '5L' (field 5 of '0 0 * * 5L')"),
        ("x * * * *", "minute must be a number 0-59, got 'x' (field 1 of 'x * * * *')"),
        ("mon * * * *", "minute must be a number 0-59, got 'mon' (field 1 of 'mon * * * *')"),
        (
            "0 0 * foo *",
            "month names are jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec, got 'foo' (field 4 of '0 0 * foo *')",
        ),
        (
            "0 0 * * monday",
            "day-of-week names are sun, mon, tue, wed, thu, fri, sat, got 'monday' (field 5 of '0 0 * * monday')",
        ),
        ("0 0 * * mon-", "day-of-week must be a number 0-7 or a name, got '' (field 5 of '0 0 * * mon-')"),
        ("0 0 1 1 * ; 0 0 * * 8", "day-of-week must be 0-7, got 8 (field 5 of '0 0 * * 8')"),
    ];
    for (text, message) in table {
        check(text, &utc(), CronField, message);
    }
}

#[test]
fn cron_shape_errors_say_what_shape_is_expected() {
    use ScheduleErrorKind::CronSyntax;
    let table: &[(&str, &str)] = &[
        ("* * *", "cron needs 5 fields (minute hour day-of-month month day-of-week), got 3 in '* * *'"),
        ("* * * *", "cron needs 5 fields (minute hour day-of-month month day-of-week), got 4 in '* * * *'"),
        (
            "0 0 0 * * *",
            "cron needs 5 fields (minute hour day-of-month month day-of-week), got 6 in '0 0 0 * * *'; seconds and year fields are not supported, this is 5-field cron",
        ),
        (
            "0 0 0 * * * 2027",
            "cron needs 5 fields (minute hour day-of-month month day-of-week), got 7 in '0 0 0 * * * 2027'; seconds and year fields are not supported, this is 5-field cron",
        ),
        (
            "@fortnightly",
            "unknown cron macro '@fortnightly'; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly",
        ),
        ("@daily 5", "a macro stands alone, got '@daily 5'; write just '@daily'"),
        ("@reboot", "@reboot is not supported: a schedule fires at times, not on host start"),
        ("0 0 * * *;", "empty cron expression between ';' in '0 0 * * *;'"),
        (
            "@daily;@daily;@daily;@daily;@daily;@daily;@daily;@daily;@daily",
            "a cron schedule joins at most 8 expressions with ';', got 9 in '@daily;@daily;@daily;@daily;@daily;@daily;@daily;@daily;@daily'",
        ),
    ];
    for (text, message) in table {
        check(text, &utc(), CronSyntax, message);
    }
}

#[test]
fn cron_that_can_never_fire_is_refused() {
    use ScheduleErrorKind::NeverFires;
    let table: &[(&str, &str)] = &[
        (
            "0 0 30 2 *",
            "day-of-month 30 never occurs in month 2, so '0 0 30 2 *' never fires; use L for the last day of the month",
        ),
        (
            "0 0 31 4,6,9,11 *",
            "day-of-month 31 never occurs in month 4,6,9,11, so '0 0 31 4,6,9,11 *' never fires; use L for the last day of the month",
        ),
        (
            "0 0 30-31 feb *",
            "day-of-month 30-31 never occurs in month feb, so '0 0 30-31 feb *' never fires; use L for the last day of the month",
        ),
        // Day-of-week starts with `*`, so both day fields must match: still never.
        (
            "0 0 31 2 */2",
            "day-of-month 31 never occurs in month 2, so '0 0 31 2 */2' never fires; use L for the last day of the month",
        ),
    ];
    for (text, message) in table {
        check(text, &utc(), NeverFires, message);
    }
    // With both day fields restricted the weekday can still fire (Vixie OR), so it is valid.
    assert!(Schedule::parse("0 0 30 2 1", &utc()).is_ok());
    // 29 February exists in leap years.
    assert!(Schedule::parse("0 0 29 2 *", &utc()).is_ok());
}

#[test]
fn interval_errors_explain_the_rule() {
    use ScheduleErrorKind::Interval;
    let table: &[(&str, &str)] = &[
        ("0s", "interval must be greater than zero, got '0s'"),
        ("0m", "interval must be greater than zero, got '0m'"),
        ("-5m", "interval must be positive, got '-5m'; write e.g. '5m'"),
        ("500ms", "interval must be a whole number of seconds, got '500ms'"),
        ("1.5s", "interval must be a whole number of seconds, got '1.5s'"),
        (
            "1M",
            "interval unit 'M' in '1M' is a calendar month or year, whose length varies; intervals take s, m, h, d, w — use a cron expression or a 'monthly ...' preset for calendar dates",
        ),
        (
            "2years",
            "interval unit 'years' in '2years' is a calendar month or year, whose length varies; intervals take s, m, h, d, w — use a cron expression or a 'monthly ...' preset for calendar dates",
        ),
        ("36526d", "interval must be at most 36525d (100 years), got '36526d'"),
        ("every", "'every' needs a duration, e.g. 'every 15m'"),
    ];
    for (text, message) in table {
        let kind = if *text == "every" { ScheduleErrorKind::Preset } else { Interval };
        check(text, &utc(), kind, message);
    }
    check("every 0s", &utc(), Interval, "interval must be greater than zero, got '0s'");
    // humantime's own reason sits in the middle; only the frame is pinned.
    let error = Schedule::parse("5x", &utc()).unwrap_err();
    assert_eq!(error.kind(), Interval);
    let message = error.to_string();
    assert!(message.starts_with("invalid interval '5x': unknown time unit"), "{message}");
    assert!(message.ends_with("; write e.g. '30s', '5m', '2h', '1d' or '1h30m'"), "{message}");
}

#[test]
fn one_off_errors_show_the_accepted_forms() {
    use ScheduleErrorKind::Once;
    let table: &[(&str, &str)] =
        &[("2027-01-05", "one-off time '2027-01-05' has a date but no time of day; write e.g. '2027-01-05 09:30'")];
    for (text, message) in table {
        check(text, &utc(), Once, message);
    }
    // jiff's own reason sits in the middle; its wording belongs to jiff, so only the frame
    // is pinned.
    for text in ["2027-13-05 09:30", "2027-02-30 09:30", "2027-01-05 25:00"] {
        let error = Schedule::parse(text, &utc()).unwrap_err();
        assert_eq!(error.kind(), Once);
        let message = error.to_string();
        assert!(message.starts_with(&format!("invalid one-off time '{text}': ")), "{message}");
        assert!(message.ends_with("; write an RFC 3339 instant ('2027-01-05T09:30:00Z'), a local time in the schedule's zone ('2027-01-05 09:30') or 'now'"), "{message}");
    }
    let once = utc().with_kind(ScheduleKind::Once);
    check(
        "tomorrow",
        &once,
        Once,
        "invalid one-off time 'tomorrow'; write an RFC 3339 instant ('2027-01-05T09:30:00Z'), a local time in the schedule's zone ('2027-01-05 09:30') or 'now'",
    );
}

#[test]
fn a_one_off_instant_beyond_the_supported_range_says_the_range_not_how_jiff_parses() {
    use ScheduleErrorKind::Once;
    let once = utc().with_kind(ScheduleKind::Once);
    for text in ["9999-12-31T23:59:59Z", "9999-12-31T00:00:00+01:00"] {
        let message = format!(
            "one-off time '{text}' is out of range: an instant must be between -009999-01-02T01:59:59Z and \
             9999-12-30T22:00:00Z"
        );
        check(text, &once, Once, &message);
        check(text, &utc(), Once, &message);
    }
    // The last accepted second still parses.
    let last = Schedule::parse("9999-12-30T22:00:00Z", &once).unwrap();
    assert_eq!(last.expression(), "9999-12-30T22:00:00Z");
}

#[test]
fn a_one_off_offset_beyond_eighteen_hours_is_refused_with_the_rule() {
    use ScheduleErrorKind::Once;
    for (text, shown) in [
        ("2027-01-05T09:30:00+25:00", "+25:00"),
        ("2027-01-05T09:30:00-18:01", "-18:01"),
        ("2027-01-05T09:30:00+18:00:01", "+18:00:01"),
    ] {
        check(
            text,
            &utc(),
            Once,
            &format!("one-off time '{text}' has the UTC offset {shown}; an offset must be between -18:00 and +18:00"),
        );
    }
    for text in ["2027-01-05T09:30:00+18:00", "2027-01-05T09:30:00-18:00", "2027-01-05T09:30:00+14:00"] {
        Schedule::parse(text, &utc()).unwrap();
    }
}

#[test]
fn parse_instant_applies_the_one_off_rules_and_ignores_text_without_an_offset() {
    assert!(scheduler_schedule::parse_instant("2027-01-05 09:30").is_none());
    assert!(scheduler_schedule::parse_instant("yesterday").is_none());
    let at = scheduler_schedule::parse_instant(" 2027-01-05T09:30:00+01:00 ").unwrap().unwrap();
    assert_eq!(at.to_string(), "2027-01-05T08:30:00Z");
    let error = scheduler_schedule::parse_instant("2027-01-05T09:30:00+25:00").unwrap().unwrap_err();
    assert_eq!(error.kind(), ScheduleErrorKind::Once);
    assert_eq!(
        error.message(),
        "'2027-01-05T09:30:00+25:00' has the UTC offset +25:00; an offset must be between -18:00 and +18:00"
    );
}

#[test]
fn preset_errors_show_an_example() {
    use ScheduleErrorKind::Preset;
    let table: &[(&str, &str)] = &[
        ("daily", "daily needs one time, e.g. 'daily 02:30', got 'daily'"),
        ("daily 25:00", "time must be HH:MM (00:00-23:59), got '25:00'"),
        ("daily 2:3", "time must be HH:MM (00:00-23:59), got '2:3'"),
        ("daily noon", "time must be HH:MM (00:00-23:59), got 'noon'"),
        ("weekdays", "weekdays needs one time, e.g. 'weekdays 09:00', got 'weekdays'"),
        ("weekly 09:00", "weekly needs a weekday and a time, e.g. 'weekly mon 09:00', got 'weekly 09:00'"),
        ("weekly mo 09:00", "weekday must be one of sun, mon, tue, wed, thu, fri, sat (or the full name), got 'mo'"),
        ("monthly 32 10:00", "monthly day must be 1-31 or 'last', got '32'"),
        ("monthly 0 10:00", "monthly day must be 1-31 or 'last', got '0'"),
        (
            "monthly 10:00",
            "monthly needs a day (1-31 or 'last') and a time, e.g. 'monthly 1 09:00', got 'monthly 10:00'",
        ),
    ];
    for (text, message) in table {
        check(text, &utc(), Preset, message);
    }
}

#[test]
fn everything_else_is_refused_with_the_list_of_forms() {
    check(
        "",
        &utc(),
        ScheduleErrorKind::Empty,
        "schedule is empty; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')",
    );
    check(
        "   ",
        &utc(),
        ScheduleErrorKind::Empty,
        "schedule is empty; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')",
    );
    check(&"1".repeat(2000), &utc(), ScheduleErrorKind::Empty, "schedule is too long: 2000 bytes, at most 1024");
    check(
        "5",
        &utc(),
        ScheduleErrorKind::Unrecognized,
        "a bare number is ambiguous, got '5'; write '5m' for an interval or 5 cron fields such as '5 * * * *'",
    );
    check(
        "whenever you like",
        &utc(),
        ScheduleErrorKind::Unrecognized,
        "'whenever you like' is not a schedule; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')",
    );
    check(
        "☃",
        &utc(),
        ScheduleErrorKind::Unrecognized,
        "'☃' is not a schedule; write a cron expression ('0 2 * * *'), an interval ('5m'), a time ('2027-01-05 09:30'), 'now', 'manual' or a preset ('daily 02:30')",
    );
}

#[test]
fn unknown_time_zone_is_named() {
    let options = utc().with_timezone("Mars/Olympus_Mons");
    check(
        "@daily",
        &options,
        ScheduleErrorKind::UnknownTimeZone,
        "unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
    );
    let empty = utc().with_timezone("");
    check(
        "@daily",
        &empty,
        ScheduleErrorKind::UnknownTimeZone,
        "unknown time zone ''; use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
    );
}

#[test]
fn forced_kind_mismatch_names_both_kinds() {
    let once = utc().with_kind(ScheduleKind::Once);
    check(
        "0 2 * * *",
        &once,
        ScheduleErrorKind::KindMismatch,
        "'0 2 * * *' is a cron schedule, but a once schedule was requested",
    );
    let cron = utc().with_kind(ScheduleKind::Cron);
    check(
        "every 15m",
        &cron,
        ScheduleErrorKind::KindMismatch,
        "'every 15m' is an interval schedule, but a cron schedule was requested",
    );
    check(
        "5m",
        &cron,
        ScheduleErrorKind::KindMismatch,
        "'5m' is an interval schedule, but a cron schedule was requested",
    );
    let interval = utc().with_kind(ScheduleKind::Interval);
    check(
        "@daily",
        &interval,
        ScheduleErrorKind::KindMismatch,
        "'@daily' is a cron schedule, but an interval schedule was requested",
    );
    // A forced kind gives that kind's own message for text that is no schedule at all.
    check(
        "5",
        &cron,
        ScheduleErrorKind::CronSyntax,
        "cron needs 5 fields (minute hour day-of-month month day-of-week), got 1 in '5'",
    );
}

#[test]
fn error_codes_are_stable() {
    let table = [
        (ScheduleErrorKind::Empty, "schedule::empty"),
        (ScheduleErrorKind::UnknownTimeZone, "schedule::unknown_time_zone"),
        (ScheduleErrorKind::CronSyntax, "schedule::cron_syntax"),
        (ScheduleErrorKind::CronField, "schedule::cron_field"),
        (ScheduleErrorKind::NeverFires, "schedule::never_fires"),
        (ScheduleErrorKind::Interval, "schedule::interval"),
        (ScheduleErrorKind::Once, "schedule::once"),
        (ScheduleErrorKind::Preset, "schedule::preset"),
        (ScheduleErrorKind::KindMismatch, "schedule::kind_mismatch"),
        (ScheduleErrorKind::Unrecognized, "schedule::unrecognized"),
    ];
    for (kind, code) in table {
        assert_eq!(kind.code(), code);
        assert_eq!(kind.to_string(), code);
    }
}
