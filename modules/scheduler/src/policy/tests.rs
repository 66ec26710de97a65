//! Unit tests of the scheduling policies, branch by branch, with no store: facts are plain
//! values or closures, and the jitter draw is chosen by the test.

use std::cell::Cell;
use std::convert::Infallible;
use std::time::Duration;

use jiff::Timestamp;

use super::overlap::{self, Admission, SkipReason};
use super::retry::{self, Backoff};
use super::{manual, misfire, once};
use crate::task::{BackoffKind, MisfirePolicy, Origin, OverlapPolicy, TaskSchedule, TaskStatus, Trigger};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

fn every_minute() -> TaskSchedule {
    TaskSchedule::parse("1m", None, None, at("2026-01-01T00:00:00Z")).expect("a schedule")
}

type Fact<T> = Result<T, Infallible>;

fn admit(overlap: OverlapPolicy, once: bool, running: Option<Trigger>, waiting: bool) -> Admission {
    let asked_waiting = Cell::new(false);
    let admission = overlap::admit(
        overlap,
        once,
        || -> Fact<_> { Ok(running) },
        || -> Fact<_> {
            asked_waiting.set(true);
            Ok(waiting)
        },
    )
    .expect("infallible");
    if asked_waiting.get() {
        assert_eq!(overlap, OverlapPolicy::Queue, "only queue asks whether a run waits");
        assert!(!once && running.is_some());
    }
    admission
}

// Overlap.

#[test]
fn overlap_allow_starts_without_asking_what_runs() {
    let admission = overlap::admit(
        OverlapPolicy::Allow,
        false,
        || -> Fact<Option<Trigger>> { panic!("allow never asks what runs") },
        || -> Fact<bool> { panic!("allow never asks what waits") },
    );
    assert_eq!(admission, Ok(Admission::Start));
}

#[test]
fn an_idle_task_starts_under_every_policy() {
    for policy in [OverlapPolicy::Allow, OverlapPolicy::Skip, OverlapPolicy::Queue] {
        assert_eq!(admit(policy, false, None, true), Admission::Start, "{policy:?}");
    }
}

#[test]
fn overlap_skip_names_the_blocker_running_queued_retry_or_misfire_backlog() {
    let reason = |trigger| admit(OverlapPolicy::Skip, false, Some(trigger), false);
    assert_eq!(reason(Trigger::Schedule), Admission::Skip(SkipReason::PreviousRunning));
    assert_eq!(reason(Trigger::Manual), Admission::Skip(SkipReason::PreviousRunning));
    assert_eq!(reason(Trigger::Retry), Admission::Skip(SkipReason::RetryInTheWay));
    assert_eq!(reason(Trigger::CatchUp), Admission::Skip(SkipReason::BacklogInTheWay));
    assert!(SkipReason::RetryInTheWay.message().contains("retry"));
    assert!(SkipReason::BacklogInTheWay.message().contains("misfire backlog"));
    assert!(SkipReason::PreviousRunning.message().contains("still running"));
}

#[test]
fn overlap_queue_waits_behind_a_run_unless_one_already_waits() {
    assert_eq!(admit(OverlapPolicy::Queue, false, Some(Trigger::Schedule), false), Admission::Queue);
    assert_eq!(
        admit(OverlapPolicy::Queue, false, Some(Trigger::Schedule), true),
        Admission::Skip(SkipReason::AlreadyWaiting)
    );
}

#[test]
fn a_once_occurrence_waits_behind_a_run_under_skip_and_queue() {
    assert_eq!(admit(OverlapPolicy::Skip, true, Some(Trigger::Manual), true), Admission::Queue);
    assert_eq!(admit(OverlapPolicy::Queue, true, Some(Trigger::Manual), true), Admission::Queue);
}

#[test]
fn a_future_occurrence_is_claimed_ahead_only_when_nothing_is_in_the_way() {
    let ahead = |policy, running: Option<Trigger>| overlap::may_claim_ahead(policy, || -> Fact<_> { Ok(running) });
    assert_eq!(ahead(OverlapPolicy::Skip, None), Ok(true));
    assert_eq!(ahead(OverlapPolicy::Skip, Some(Trigger::Schedule)), Ok(false));
    assert_eq!(ahead(OverlapPolicy::Queue, Some(Trigger::Retry)), Ok(false));
    assert_eq!(ahead(OverlapPolicy::Allow, Some(Trigger::Schedule)), Ok(true));
    let start = |policy, running: Option<Trigger>| overlap::may_start_queued(policy, || -> Fact<_> { Ok(running) });
    assert_eq!(start(OverlapPolicy::Queue, Some(Trigger::Schedule)), Ok(false));
    assert_eq!(start(OverlapPolicy::Allow, Some(Trigger::Schedule)), Ok(true));
}

#[test]
fn a_fact_that_cannot_be_read_is_the_decisions_error() {
    let failed = overlap::admit(OverlapPolicy::Skip, false, || Err("locked"), || Ok(false));
    assert_eq!(failed, Err("locked"));
}

#[test]
fn late_occurrences_under_skip_coalesce_into_one_skipped_row_and_the_latest_runs() {
    let late = overlap::coalesce_late(
        OverlapPolicy::Skip,
        false,
        &every_minute(),
        at("2026-01-01T00:01:00Z"),
        at("2026-01-01T00:03:30Z"),
    );
    assert_eq!(late.run, at("2026-01-01T00:03:00Z"));
    assert_eq!(late.next, Some(at("2026-01-01T00:04:00Z")));
    let error = late.skipped.expect("a skipped row");
    assert!(error.starts_with("2 occurrence(s) from 2026-01-01T00:01:00Z to 2026-01-01T00:02:00Z came due"), "{error}");
    assert!(error.ends_with("the latest, 2026-01-01T00:03:00Z, runs instead"), "{error}");
}

#[test]
fn late_occurrences_are_not_coalesced_under_queue_allow_or_for_a_once_task_or_when_only_one_is_due() {
    let schedule = every_minute();
    let (due, now) = (at("2026-01-01T00:01:00Z"), at("2026-01-01T00:03:30Z"));
    for (policy, once) in [(OverlapPolicy::Queue, false), (OverlapPolicy::Allow, false), (OverlapPolicy::Skip, true)] {
        let late = overlap::coalesce_late(policy, once, &schedule, due, now);
        assert_eq!((late.run, late.skipped), (due, None), "{policy:?} once={once}");
        assert_eq!(late.next, Some(at("2026-01-01T00:02:00Z")));
    }
    let single = overlap::coalesce_late(OverlapPolicy::Skip, false, &schedule, due, at("2026-01-01T00:01:10Z"));
    assert_eq!((single.run, single.skipped), (due, None));
}

// Misfire.

#[test]
fn an_occurrence_is_missed_only_beyond_the_grace() {
    let grace = Duration::from_secs(60);
    let now = at("2026-01-01T01:00:00Z");
    assert!(!misfire::is_missed(at("2026-01-01T00:59:00Z"), now, grace), "at the grace's edge it still runs");
    assert!(misfire::is_missed(at("2026-01-01T00:58:59.999Z"), now, grace));
}

const DUE: &str = "2026-01-01T00:01:00Z";
const NOW: &str = "2026-01-01T00:10:30Z";

fn plan(policy: MisfirePolicy, once: bool, run_all_limit: u32) -> misfire::Plan {
    misfire::plan(policy, once, &every_minute(), at(DUE), at(NOW), run_all_limit)
}

#[test]
fn misfire_skip_records_one_skipped_row_at_the_last_missed_occurrence() {
    let plan = plan(MisfirePolicy::Skip, false, 100);
    let (skipped_at, error) = plan.skipped.expect("a skipped row");
    assert_eq!(skipped_at, at("2026-01-01T00:10:00Z"));
    assert_eq!(
        error,
        "10 occurrence(s) from 2026-01-01T00:01:00Z to 2026-01-01T00:10:00Z were missed (misfire policy skip)"
    );
    assert_eq!((plan.start, plan.queue.len(), plan.completes), (None, 0, false));
    assert_eq!(plan.next, Some(at("2026-01-01T00:11:00Z")));
}

#[test]
fn misfire_skip_completes_a_once_task() {
    let schedule = TaskSchedule::parse("2026-01-01T00:01:00Z", None, None, at("2026-01-01T00:00:00Z")).expect("once");
    let plan = misfire::plan(MisfirePolicy::Skip, true, &schedule, at(DUE), at(NOW), 100);
    assert!(plan.completes);
    assert_eq!(plan.next, None);
}

#[test]
fn misfire_run_once_starts_the_latest_missed_occurrence() {
    let plan = plan(MisfirePolicy::RunOnce, false, 100);
    assert_eq!(plan.start, Some(at("2026-01-01T00:10:00Z")));
    assert_eq!((plan.skipped, plan.queue.len(), plan.completes), (None, 0, false));
}

#[test]
fn misfire_run_all_starts_the_oldest_and_queues_the_rest_in_order() {
    let plan = plan(MisfirePolicy::RunAll, false, 100);
    assert_eq!(plan.start, Some(at("2026-01-01T00:01:00Z")));
    assert_eq!(plan.queue.len(), 9);
    assert_eq!(plan.queue.front(), Some(&at("2026-01-01T00:02:00Z")));
    assert_eq!(plan.queue.back(), Some(&at("2026-01-01T00:10:00Z")));
    assert_eq!(plan.skipped, None);
}

#[test]
fn misfire_run_all_keeps_the_newest_within_its_bound_and_records_the_dropped_ones() {
    let plan = plan(MisfirePolicy::RunAll, false, 3);
    assert_eq!(plan.start, Some(at("2026-01-01T00:08:00Z")));
    assert_eq!(plan.queue, [at("2026-01-01T00:09:00Z"), at("2026-01-01T00:10:00Z")]);
    let (skipped_at, error) = plan.skipped.expect("the dropped ones are recorded");
    assert_eq!(skipped_at, at(DUE));
    assert!(error.ends_with("the 7 oldest were dropped (misfire run_all bound 3)"), "{error}");
}

// Retry and backoff.

fn backoff(kind: BackoffKind, jitter: bool) -> Backoff {
    Backoff { base: Duration::from_secs(5), kind, cap: Duration::from_secs(60), jitter }
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let exponential = backoff(BackoffKind::Exponential, false);
    let delays: Vec<u64> =
        (1..=6).map(|attempt| retry::delay(&exponential, attempt, |_| unreachable!()).as_secs()).collect();
    assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
    assert_eq!(retry::delay(&exponential, 40, |_| 0), Duration::from_secs(60), "no overflow past the cap");
}

#[test]
fn a_cap_below_the_base_never_shortens_the_base_delay() {
    let low = Backoff { cap: Duration::from_secs(1), ..backoff(BackoffKind::Exponential, false) };
    assert_eq!(retry::delay(&low, 3, |_| 0), Duration::from_secs(5));
}

#[test]
fn fixed_backoff_is_the_base_every_time() {
    let fixed = backoff(BackoffKind::Fixed, false);
    assert_eq!(retry::delay(&fixed, 4, |_| 0), Duration::from_secs(5));
}

#[test]
fn jitter_draws_between_half_and_the_full_delay() {
    let jittered = backoff(BackoffKind::Exponential, true);
    assert_eq!(retry::delay(&jittered, 2, |_| 0), Duration::from_secs(5), "the lowest draw is half");
    assert_eq!(retry::delay(&jittered, 2, |spread| spread), Duration::from_secs(10), "the highest is all");
    assert_eq!(retry::delay(&jittered, 2, |spread| spread * 10), Duration::from_secs(10), "a wild draw is bounded");
    let mut spread_seen = 0;
    retry::delay(&jittered, 2, |spread| {
        spread_seen = spread;
        0
    });
    assert_eq!(spread_seen, 5_000);
    for attempt in 1..=10 {
        let full = retry::delay(&backoff(BackoffKind::Exponential, false), attempt, |_| 0);
        let drawn = retry::delay(&jittered, attempt, retry::random);
        assert!(drawn >= full / 2 && drawn <= full, "{drawn:?} vs {full:?}");
    }
}

#[test]
fn jitter_of_a_zero_delay_draws_nothing() {
    let zero = Backoff { base: Duration::ZERO, ..backoff(BackoffKind::Fixed, true) };
    assert_eq!(retry::delay(&zero, 1, |_| panic!("no draw for a zero delay")), Duration::ZERO);
}

#[test]
fn a_retryable_failure_is_retried_while_attempts_remain() {
    assert_eq!(retry::next_attempt(true, true, 1, 3), Some(2));
    assert_eq!(retry::next_attempt(true, true, 3, 3), Some(4), "retries counts retries, not attempts");
    assert_eq!(retry::next_attempt(true, true, 4, 3), None, "spent");
    assert_eq!(retry::next_attempt(true, true, 1, 0), None, "retries 0 means no retry");
    assert_eq!(retry::next_attempt(true, false, 1, 3), None, "not retryable");
    assert_eq!(retry::next_attempt(false, true, 1, 3), None, "not a failure");
}

// Manual runs.

#[test]
fn a_manual_run_queues_when_the_task_is_idle_or_overlap_is_allowed() {
    for policy in [OverlapPolicy::Allow, OverlapPolicy::Skip, OverlapPolicy::Queue] {
        assert_eq!(manual::request(policy, false, false), Admission::Queue, "{policy:?}");
    }
    assert_eq!(manual::request(OverlapPolicy::Allow, true, true), Admission::Queue);
}

#[test]
fn a_manual_run_under_skip_is_skipped_while_a_run_runs_or_waits() {
    assert_eq!(manual::request(OverlapPolicy::Skip, true, false), Admission::Skip(SkipReason::ManualBusy));
    assert_eq!(manual::request(OverlapPolicy::Skip, false, true), Admission::Skip(SkipReason::ManualBusy));
    assert_eq!(SkipReason::ManualBusy.message(), "a run is already running or waiting (overlap policy skip)");
}

#[test]
fn a_manual_run_under_queue_waits_behind_a_running_one_unless_one_already_waits() {
    assert_eq!(manual::request(OverlapPolicy::Queue, true, false), Admission::Queue);
    assert_eq!(manual::request(OverlapPolicy::Queue, true, true), Admission::Skip(SkipReason::AlreadyWaiting));
    assert_eq!(manual::request(OverlapPolicy::Queue, false, true), Admission::Skip(SkipReason::AlreadyWaiting));
}

#[test]
fn a_paused_tasks_manual_run_starts_and_its_scheduled_work_waits() {
    assert!(manual::may_start(TaskStatus::Paused, Origin::Manual));
    assert!(!manual::may_start(TaskStatus::Paused, Origin::Schedule));
    assert!(manual::may_start(TaskStatus::Active, Origin::Schedule));
}

// Once tasks.

#[test]
fn a_once_task_completes_when_its_scheduled_occurrence_ends_without_a_retry() {
    assert!(once::completes(true, Origin::Schedule, false, TaskStatus::Active));
    assert!(!once::completes(true, Origin::Schedule, true, TaskStatus::Active), "a retry follows");
    assert!(!once::completes(true, Origin::Manual, false, TaskStatus::Active), "a manual run");
    assert!(!once::completes(true, Origin::Schedule, false, TaskStatus::Completed), "already completed");
    assert!(!once::completes(false, Origin::Schedule, false, TaskStatus::Active), "not a once task");
}
