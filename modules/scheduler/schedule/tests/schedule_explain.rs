//! `Schedule::explain`, table-driven: the words `scheduler:next --explain` and
//! `scheduler:validate` print.

// Test helpers unwrap like the tests they serve (clippy.toml allows it in #[test] only).
#![allow(clippy::unwrap_used)]

use scheduler_schedule::{Schedule, ScheduleOptions, Timestamp};

fn explain(text: &str, zone: &str, after: &str) -> String {
    let options = ScheduleOptions::new("2027-01-01T00:00:00Z".parse().unwrap()).with_timezone(zone);
    let schedule = Schedule::parse(text, &options).unwrap();
    schedule.explain(after.parse::<Timestamp>().unwrap()).to_string()
}

#[test]
fn explanations_say_when_a_schedule_fires() {
    let table: &[(&str, &str, &str, &str)] = &[
        (
            "0 2 * * *",
            "Europe/Berlin",
            "2027-01-01T00:00:00Z",
            "at 02:00 every day in Europe/Berlin; 2027-03-28 02:00 does not exist in Europe/Berlin (clocks go from 02:00 to 03:00), fires at 03:00; 2027-10-31 02:00 happens twice in Europe/Berlin (clocks go back from 03:00 to 02:00), fires once, at the first",
        ),
        ("0 2 * * *", "UTC", "2027-01-01T00:00:00Z", "at 02:00 every day in UTC"),
        ("0 9 * * 1-5", "UTC", "2027-01-01T00:00:00Z", "at 09:00 on Monday through Friday in UTC"),
        (
            "0 9,17 * * mon,wed,fri",
            "UTC",
            "2027-01-01T00:00:00Z",
            "at 09:00 and 17:00 on Monday, Wednesday and Friday in UTC",
        ),
        ("*/5 * * * *", "UTC", "2027-01-01T00:00:00Z", "every 5 minutes in UTC"),
        ("* * * * *", "UTC", "2027-01-01T00:00:00Z", "every minute in UTC"),
        ("0 * * * *", "UTC", "2027-01-01T00:00:00Z", "at minute 0 of every hour every day in UTC"),
        ("0 */6 * * *", "UTC", "2027-01-01T00:00:00Z", "at minute 0 of every 6th hour every day in UTC"),
        (
            "*/15 9-17 * * 1-5",
            "UTC",
            "2027-01-01T00:00:00Z",
            "every 15 minutes during hours 09-17 on Monday through Friday in UTC",
        ),
        ("0 0 1,15 * mon", "UTC", "2027-01-01T00:00:00Z", "at 00:00 on days 1 and 15 of the month or on Monday in UTC"),
        (
            "0 0 */2 * fri",
            "UTC",
            "2027-01-01T00:00:00Z",
            "at 00:00 on days 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29 and 31 of the month if it is a Friday in UTC",
        ),
        ("0 0 L * *", "UTC", "2027-01-01T00:00:00Z", "at 00:00 on the last day of the month in UTC"),
        ("@yearly", "UTC", "2027-01-01T00:00:00Z", "at 00:00 on day 1 of the month in January in UTC"),
        (
            "0 12 * jun-aug sat,sun",
            "UTC",
            "2027-01-01T00:00:00Z",
            "at 12:00 on Sunday and Saturday in June through August in UTC",
        ),
        (
            "monthly 30 08:00",
            "UTC",
            "2027-01-01T00:00:00Z",
            "at 08:00 on day 30 of the month in January and March through December, and at 08:00 on the last day of the month in February in UTC",
        ),
        (
            "*/30 * * * *",
            "America/New_York",
            "2027-01-01T00:00:00Z",
            "every 30 minutes in America/New_York; 2027-03-14 02:00-03:00 does not exist in America/New_York (clocks go forward), fire times in it are skipped; 2027-11-07 01:00-02:00 happens twice in America/New_York (clocks go back), fires in both passes",
        ),
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2027-06-01T00:00:00Z",
            "at 02:15 every day in Australia/Lord_Howe; 2027-10-03 02:15 does not exist in Australia/Lord_Howe (clocks go from 02:00 to 02:30), fires at 02:30",
        ),
        // A clock change that does not touch the schedule is not mentioned.
        ("0 12 * * *", "America/New_York", "2027-01-01T00:00:00Z", "at 12:00 every day in America/New_York"),
        (
            "5m",
            "UTC",
            "2027-01-01T00:00:00Z",
            "every 5m counted from 2027-01-01T00:00:00Z (exact elapsed time; clock changes do not move it)",
        ),
        (
            "2027-01-05 09:30",
            "Europe/Berlin",
            "2027-01-01T00:00:00Z",
            "once at 2027-01-05 09:30:00 in Europe/Berlin (2027-01-05T08:30:00Z)",
        ),
        (
            "2027-01-05 09:30",
            "UTC",
            "2027-02-01T00:00:00Z",
            "once at 2027-01-05 09:30:00 in UTC (2027-01-05T09:30:00Z); already past, never fires again",
        ),
        ("manual", "UTC", "2027-01-01T00:00:00Z", "never by itself; only when run by hand"),
    ];
    for (text, zone, after, expected) in table {
        assert_eq!(explain(text, zone, after), *expected, "'{text}' in {zone}");
    }
}

#[test]
fn explanation_carries_the_next_fire_time() {
    let options = ScheduleOptions::new("2027-01-01T00:00:00Z".parse().unwrap());
    let schedule = Schedule::parse("@daily", &options).unwrap();
    let explanation = schedule.explain("2027-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(explanation.next, Some("2027-01-02T00:00:00Z".parse().unwrap()));
    assert_eq!(explanation.summary, "at 00:00 every day in UTC");
    assert!(explanation.notes.is_empty());
}
