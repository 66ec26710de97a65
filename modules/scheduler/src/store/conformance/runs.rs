//! Conformance behaviours of executions: claims (due, late, ahead), occurrence uniqueness,
//! the overlap check's pending outcomes, retries, recovery of interrupted runs, cancel,
//! retention, history, stats and the clock epochs of a backward jump.

use std::sync::Arc;
use std::time::Duration;

use super::{START, at, claim, claim_at, create, executions, finish, finished, new_task, reload};
use crate::store::{ClockJump, FinishOutcome, HistoryQuery, RecoverRequest, Store};
use crate::task::{ExecutionStatus, OverlapPolicy, Trigger};

/// Behaviour: a due occurrence is claimed as a `running` row and the task's next run
/// advances from the occurrence, not from the claim's now.
pub async fn a_claim_writes_a_running_row_and_advances_the_next_run_from_the_occurrence(store: Arc<dyn Store>) {
    let task = create(&store, new_task("minutely", "ok", "1m")).await;
    assert!(claim_at(&store, "2026-01-01T00:00:30Z").await.claimed.is_empty(), "nothing is due yet");
    let outcome = claim_at(&store, "2026-01-01T00:01:00.250Z").await;
    assert_eq!(outcome.claimed.len(), 1);
    let claimed = &outcome.claimed[0];
    assert_eq!(
        (claimed.occurrence.task_id.clone(), claimed.occurrence.name.as_str(), claimed.occurrence.tenant.as_str()),
        (task.id.clone(), "minutely", "default")
    );
    assert_eq!(
        (claimed.command.as_str(), claimed.occurrence.attempt, claimed.occurrence.trigger),
        ("ok", 1, Trigger::Schedule)
    );
    assert_eq!(claimed.occurrence.scheduled_for, at("2026-01-01T00:01:00Z"));
    assert!(!claimed.ahead);
    let rows = executions(&store, &task).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, ExecutionStatus::Running);
    assert_eq!(rows[0].node_id.as_deref(), Some("test"));
    let task = reload(&store, &task).await;
    assert_eq!(task.next_run_at, Some(at("2026-01-01T00:02:00Z")));
    assert_eq!(outcome.next_due, None, "nothing else is due");
}

/// Behaviour: an occurrence has one execution row: a second claim of the same instant claims
/// nothing and writes nothing.
pub async fn an_occurrence_is_claimed_once(store: Arc<dyn Store>) {
    let task = create(&store, new_task("once", "ok", "2026-01-01T00:00:10Z")).await;
    assert_eq!(claim_at(&store, "2026-01-01T00:00:10Z").await.claimed.len(), 1);
    let again = claim_at(&store, "2026-01-01T00:00:10Z").await;
    assert!(again.claimed.is_empty() && again.noted.is_empty(), "{again:?}");
    assert_eq!(executions(&store, &task).await.len(), 1);
}

/// Behaviour: under overlap `skip`, occurrences that came due within the grace before a
/// claim could take them are one skipped row; the latest runs.
pub async fn occurrences_that_came_due_while_claims_failed_run_once_and_one_row_records_the_rest(
    store: Arc<dyn Store>,
) {
    let task = create(&store, new_task("every-second", "ok", "1s")).await;
    // Claims failed (a full disk) from 00:00:01 until 00:00:05.5.
    let outcome = claim_at(&store, "2026-01-01T00:00:05.500Z").await;
    assert_eq!(outcome.claimed.len(), 1);
    assert_eq!(outcome.claimed[0].occurrence.scheduled_for, at("2026-01-01T00:00:05Z"), "the latest runs");
    let rows = executions(&store, &task).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].status, ExecutionStatus::Skipped);
    assert_eq!(
        rows[0].error.as_deref(),
        Some(
            "4 occurrence(s) from 2026-01-01T00:00:01Z to 2026-01-01T00:00:04Z came due before they could be \
             claimed (the store could not write, or the engine was held up); the latest, 2026-01-01T00:00:05Z, \
             runs instead"
        )
    );
    assert_eq!(reload(&store, &task).await.next_run_at, Some(at("2026-01-01T00:00:06Z")));
}

fn ahead(now: &str) -> crate::store::ClaimRequest {
    crate::store::ClaimRequest { horizon: Duration::from_secs(1), ..claim(now) }
}

/// Behaviour: an occurrence claimed ahead of its instant is `queued` under the claiming node
/// (a claim) until it is marked dispatched, then `running`.
pub async fn a_claim_ahead_is_queued_under_its_node_until_it_is_marked_dispatched(store: Arc<dyn Store>) {
    let task = create(&store, new_task("minutely", "ok", "1m")).await;
    let outcome = store.claim_due(ahead("2026-01-01T00:00:59.500Z")).await.expect("claim");
    assert_eq!(outcome.claimed.len(), 1);
    let claimed = &outcome.claimed[0];
    assert!(claimed.ahead);
    assert_eq!(claimed.started_at, at("2026-01-01T00:01:00Z"), "it starts at its instant");
    let row = &executions(&store, &task).await[0];
    assert_eq!((row.status, row.node_id.as_deref()), (ExecutionStatus::Queued, Some("test")));
    assert!(
        store.claim_due(claim("2026-01-01T00:01:00Z")).await.expect("claim").claimed.is_empty(),
        "a claim is not queued work"
    );
    assert!(store.mark_claim(claimed.occurrence.execution_id, true).await.expect("mark"));
    assert_eq!(executions(&store, &task).await[0].status, ExecutionStatus::Running);
    assert!(!store.mark_claim(claimed.occurrence.execution_id, true).await.expect("mark"), "it is no longer a claim");
}

/// Behaviour: a claim made ahead but never dispatched goes back to the queue as the same
/// attempt, for any engine.
pub async fn an_undispatched_claim_goes_back_to_the_queue_as_the_same_attempt(store: Arc<dyn Store>) {
    let task = create(&store, new_task("minutely", "ok", "1m")).await;
    let outcome = store.claim_due(ahead("2026-01-01T00:00:59.500Z")).await.expect("claim");
    let id = outcome.claimed[0].occurrence.execution_id;
    assert!(store.mark_claim(id, false).await.expect("returned"));
    let row = &executions(&store, &task).await[0];
    assert_eq!((row.status, row.node_id.as_deref(), row.attempt), (ExecutionStatus::Queued, None, 1));
    let again = claim_at(&store, "2026-01-01T00:01:00Z").await;
    assert_eq!(again.claimed.len(), 1);
    assert_eq!(
        (again.claimed[0].occurrence.execution_id, again.claimed[0].occurrence.attempt),
        (id, 1),
        "the same row and attempt"
    );
}

/// Behaviour: executions in `ClaimRequest::settled` (ended, outcome not yet written) do not
/// keep the task busy; otherwise overlap `skip` records the next occurrence skipped, naming
/// the running blocker.
pub async fn an_execution_whose_outcome_is_pending_a_write_does_not_block_the_next_occurrence(store: Arc<dyn Store>) {
    let task = create(&store, new_task("minutely", "ok", "1m")).await;
    let first = claim_at(&store, "2026-01-01T00:01:00Z").await.claimed[0].occurrence.execution_id;
    let blocked = claim_at(&store, "2026-01-01T00:02:00Z").await;
    assert!(blocked.claimed.is_empty());
    assert_eq!(blocked.noted.len(), 1);
    assert_eq!(blocked.noted[0].status, ExecutionStatus::Skipped);
    assert_eq!(blocked.noted[0].error.as_deref(), Some("the previous run is still running (overlap policy skip)"));
    let settled = crate::store::ClaimRequest { settled: vec![first], ..claim("2026-01-01T00:03:00Z") };
    let outcome = store.claim_due(settled).await.expect("claim");
    assert_eq!(outcome.claimed.len(), 1, "the settled run does not block");
    assert_eq!(outcome.claimed[0].occurrence.scheduled_for, at("2026-01-01T00:03:00Z"));
    assert_eq!(executions(&store, &task).await.len(), 3);
}

/// Behaviour: a retryable failure writes the retry as a queued row due after the backoff;
/// it is claimed then, as the next attempt of the same occurrence.
pub async fn a_failed_attempt_queues_its_retry_which_is_claimed_when_due(store: Arc<dyn Store>) {
    let task = create(&store, new_task("flaky", "fail", "1h")).await;
    let id = claim_at(&store, "2026-01-01T01:00:00Z").await.claimed[0].occurrence.execution_id;
    let done =
        finished(&store, finish(id, ExecutionStatus::Failed, "2026-01-01T01:00:01Z", Duration::from_secs(1))).await;
    assert_eq!(done.execution.status, ExecutionStatus::Failed);
    let retry = done.retry.expect("a retry");
    assert_eq!((retry.attempt, retry.run_at), (2, at("2026-01-01T01:00:06Z")), "the default 5 s backoff");
    assert!(done.queued_waiting);
    assert!(claim_at(&store, "2026-01-01T01:00:05Z").await.claimed.is_empty(), "not before its time");
    let outcome = claim_at(&store, "2026-01-01T01:00:06Z").await;
    let claimed = &outcome.claimed[0];
    assert_eq!(
        (claimed.occurrence.execution_id, claimed.occurrence.attempt, claimed.occurrence.trigger),
        (retry.execution_id, 2, Trigger::Retry)
    );
    assert_eq!(claimed.occurrence.scheduled_for, at("2026-01-01T01:00:00Z"), "the same occurrence");
    let task = reload(&store, &task).await;
    assert_eq!((task.counters.runs, task.counters.failures, task.counters.consecutive_failures), (1, 1, 1));
}

/// Behaviour: a batch of outcomes is answered one result per outcome, in order; an outcome
/// of an execution that is not running is answered `NotRunning` and leaves the others of
/// its batch recorded, with their counters and retries.
pub async fn a_batch_of_outcomes_answers_each_in_order_and_a_stale_one_leaves_the_others_recorded(
    store: Arc<dyn Store>,
) {
    let ok = create(&store, new_task("ok", "ok", "1h")).await;
    let flaky = create(&store, new_task("flaky", "fail", "1h")).await;
    let claimed = claim_at(&store, "2026-01-01T01:00:00Z").await.claimed;
    let id_of = |task: &crate::task::Task| {
        claimed.iter().find(|c| c.occurrence.task_id == task.id).expect("claimed").occurrence.execution_id
    };
    let (ok_id, flaky_id) = (id_of(&ok), id_of(&flaky));
    // Already ended: its second outcome is stale.
    finished(&store, finish(ok_id, ExecutionStatus::Completed, "2026-01-01T01:00:01Z", Duration::from_secs(1))).await;
    let batch = vec![
        finish(flaky_id, ExecutionStatus::Failed, "2026-01-01T01:00:02Z", Duration::from_secs(2)),
        finish(ok_id, ExecutionStatus::Failed, "2026-01-01T01:00:02Z", Duration::from_secs(2)),
    ];
    let answers = store.finish_executions(batch).await.expect("the batch is written");
    assert_eq!(answers.len(), 2);
    match &answers[0] {
        Ok(FinishOutcome::Finished(done)) => {
            assert_eq!((done.execution.id, done.execution.status), (flaky_id, ExecutionStatus::Failed));
            assert_eq!(done.retry.as_ref().map(|retry| retry.attempt), Some(2));
        }
        other => panic!("the running execution's outcome is recorded: {other:?}"),
    }
    assert!(matches!(answers[1], Ok(FinishOutcome::NotRunning)), "{:?}", answers[1]);
    let ok = reload(&store, &ok).await;
    assert_eq!((ok.counters.runs, ok.counters.successes, ok.counters.failures), (1, 1, 0), "counted once");
    let rows = executions(&store, &ok).await;
    assert_eq!(rows[0].status, ExecutionStatus::Completed, "the stale outcome changed nothing");
    let flaky = reload(&store, &flaky).await;
    assert_eq!((flaky.counters.runs, flaky.counters.failures), (1, 1));
    assert!(store.finish_executions(Vec::new()).await.expect("an empty batch").is_empty());
}

fn recover_request(node: &str) -> RecoverRequest {
    RecoverRequest {
        now: at("2026-01-01T01:00:30Z"),
        node_id: node.to_owned(),
        stale_after: Duration::from_secs(3_600),
        retry_delay_max: Duration::from_secs(60),
        retry_jitter: false,
    }
}

/// Behaviour: recovery marks this node's running executions `interrupted` and queues their
/// retries; a claim made ahead goes back to the queue.
pub async fn recovery_interrupts_this_nodes_runs_and_queues_their_retries(store: Arc<dyn Store>) {
    let task = create(&store, new_task("long", "ok", "1h")).await;
    let id = claim_at(&store, "2026-01-01T01:00:00Z").await.claimed[0].occurrence.execution_id;
    let recovered = store.recover(recover_request("test")).await.expect("recover");
    assert_eq!(recovered.len(), 1);
    let interrupted = &recovered[0];
    assert_eq!((interrupted.execution.id, interrupted.execution.status), (id, ExecutionStatus::Interrupted));
    assert!(interrupted.execution.error.as_deref().unwrap_or("").contains("the engine 'test' that ran it stopped"));
    let retry = interrupted.retry.as_ref().expect("a retry");
    assert_eq!(retry.attempt, 2);
    assert!(store.recover(recover_request("test")).await.expect("again").is_empty(), "once");
    let finish_late = finish(id, ExecutionStatus::Completed, "2026-01-01T01:00:31Z", Duration::from_secs(31));
    let late = store.finish_execution(finish_late).await.expect("finish");
    assert!(matches!(late, crate::store::FinishOutcome::NotRunning), "a recovered run is not finished twice");
    assert_eq!(executions(&store, &task).await.len(), 2);
}

/// Behaviour: recovery leaves the runs of another node alone until they are long past
/// their deadline.
pub async fn recovery_leaves_the_runs_of_another_live_node_alone(store: Arc<dyn Store>) {
    create(&store, new_task("long", "ok", "1h")).await;
    claim_at(&store, "2026-01-01T01:00:00Z").await;
    assert!(store.recover(recover_request("other")).await.expect("recover").is_empty());
    let stale =
        RecoverRequest { stale_after: Duration::ZERO, now: at("2026-01-02T01:00:00Z"), ..recover_request("other") };
    assert_eq!(store.recover(stale).await.expect("recover").len(), 1, "past its deadline it is taken over");
}

/// Behaviour: cancel cancels a queued run, once; running and finished rows are not queued.
pub async fn cancel_cancels_a_queued_run_and_nothing_else(store: Arc<dyn Store>) {
    let task = create(&store, new_task("manual", "ok", "manual")).await;
    let run = store.request_run(task.id.clone(), at(START)).await.expect("run");
    assert!(store.cancel_queued(run.row.id, at(START)).await.expect("cancel"));
    assert!(!store.cancel_queued(run.row.id, at(START)).await.expect("again"));
    let row = store.get_execution(run.row.id).await.expect("get").expect("the row");
    assert_eq!(row.status, ExecutionStatus::Cancelled);
    let next = store.request_run(task.id.clone(), at(START)).await.expect("run");
    let claimed = claim_at(&store, START).await.claimed[0].occurrence.execution_id;
    assert_eq!(claimed, next.row.id);
    assert!(!store.cancel_queued(claimed, at(START)).await.expect("running"), "a running row is not queued");
}

/// Behaviour: cleanup deletes finished executions older than the cut-off in bounded
/// batches, and never a queued or running one.
pub async fn cleanup_deletes_old_finished_executions_in_batches_and_keeps_queued_ones(store: Arc<dyn Store>) {
    let mut busy = new_task("busy", "ok", "1m");
    busy.overlap = OverlapPolicy::Allow;
    busy.retries = 0;
    let task = create(&store, busy).await;
    for minute in 1..=3 {
        let now = format!("2026-01-01T00:0{minute}:00Z");
        let id = claim_at(&store, &now).await.claimed[0].occurrence.execution_id;
        finished(&store, finish(id, ExecutionStatus::Completed, &now, Duration::from_millis(5))).await;
    }
    let waiting = store.request_run(task.id.clone(), at("2026-01-01T00:03:00Z")).await.expect("run");
    let before = at("2026-01-01T01:00:00Z");
    assert_eq!(store.cleanup(before, 2).await.expect("cleanup").executions, 2);
    assert_eq!(store.cleanup(before, 2).await.expect("cleanup").executions, 1);
    assert_eq!(store.cleanup(before, 2).await.expect("cleanup").executions, 0);
    let left = executions(&store, &task).await;
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [waiting.row.id], "the queued run is kept");
}

/// Behaviour: history filters by task, status, since and limit, newest first.
pub async fn history_filters_by_task_status_since_and_limit(store: Arc<dyn Store>) {
    let a = create(&store, new_task("a", "ok", "1m")).await;
    let b = create(&store, new_task("b", "ok", "1m")).await;
    for minute in 1..=5 {
        claim_at(&store, &format!("2026-01-01T00:0{minute}:00Z")).await;
    }
    // Nothing finishes: the first run of each task stays running, and with the default
    // overlap policy the four later occurrences are recorded as skipped.
    let all = store.history(HistoryQuery::default()).await.expect("history");
    assert_eq!(all.len(), 10);
    let of_a =
        store.history(HistoryQuery { task_id: Some(a.id.clone()), ..HistoryQuery::default() }).await.expect("history");
    assert!(of_a.iter().all(|e| e.task_id == a.id) && of_a.len() == 5);
    assert_eq!(of_a.iter().filter(|e| e.status == ExecutionStatus::Skipped).count(), 4);
    let query = HistoryQuery {
        task_id: Some(b.id.clone()),
        status: Some(ExecutionStatus::Skipped),
        since: Some(at("2026-01-01T00:04:00Z")),
        limit: Some(1),
    };
    let newest = store.history(query).await.expect("history");
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].scheduled_for, at("2026-01-01T00:05:00Z"), "newest first");
}

/// Behaviour: stats count runs, successes and failures, and give the success rate, the
/// average and p95 duration and the last status, per task and overall.
pub async fn stats_report_counters_success_rate_average_and_p95(store: Arc<dyn Store>) {
    let mut measured = new_task("measured", "ok", "1m");
    measured.retries = 0;
    measured.overlap = OverlapPolicy::Allow;
    let task = create(&store, measured).await;
    for minute in 1..=20u64 {
        let now = format!("2026-01-01T00:{minute:02}:00Z");
        let id = claim_at(&store, &now).await.claimed[0].occurrence.execution_id;
        let status = if minute % 4 == 0 { ExecutionStatus::Failed } else { ExecutionStatus::Completed };
        finished(&store, finish(id, status, &now, Duration::from_millis(minute * 10))).await;
    }
    let stats = store.stats(Some(task.id.clone())).await.expect("stats");
    assert_eq!(stats.counters.runs, 20);
    assert_eq!(stats.counters.failures, 5);
    assert_eq!(stats.counters.successes, 15);
    assert_eq!(stats.counters.consecutive_failures, 1);
    assert_eq!(stats.success_rate, Some(0.75));
    assert_eq!(stats.avg_duration_ms, Some(105.0));
    assert_eq!(stats.p95_duration_ms, Some(190));
    assert_eq!(stats.last_status, Some(ExecutionStatus::Failed));
    assert_eq!(store.stats(None).await.expect("stats").counters.runs, 20);
}

/// Behaviour: a backward clock jump opens a new clock epoch and brings next runs back to
/// the new wall clock; an occurrence re-lived in the new epoch runs again (the epoch is part
/// of the occurrence's identity).
pub async fn a_backward_clock_jump_opens_an_epoch_in_which_an_occurrence_runs_again(store: Arc<dyn Store>) {
    let task = create(&store, new_task("minutely", "ok", "* * * * *")).await;
    let id = claim_at(&store, "2026-01-01T00:01:00Z").await.claimed[0].occurrence.execution_id;
    finished(&store, finish(id, ExecutionStatus::Completed, "2026-01-01T00:01:01Z", Duration::from_secs(1))).await;
    let jump =
        ClockJump { now: at("2025-12-31T23:59:01Z"), back: Duration::from_secs(120), node_id: "test".to_owned() };
    let rebased = store.rebase_clock(jump).await.expect("rebase");
    assert_eq!((rebased.epoch, rebased.tasks), (1, 1));
    assert_eq!(reload(&store, &task).await.next_run_at, Some(at("2026-01-01T00:00:00Z")));
    assert_eq!(claim_at(&store, "2026-01-01T00:00:00Z").await.claimed.len(), 1);
    let id = executions(&store, &task).await[1].id;
    finished(&store, finish(id, ExecutionStatus::Completed, "2026-01-01T00:00:01Z", Duration::from_secs(1))).await;
    let again = claim_at(&store, "2026-01-01T00:01:00Z").await;
    assert_eq!(again.claimed.len(), 1, "the re-lived 00:01 runs again in the new epoch");
    assert_eq!(again.claimed[0].occurrence.scheduled_for, at("2026-01-01T00:01:00Z"));
    let first_epoch = executions(&store, &task).await;
    assert_eq!(first_epoch.iter().filter(|e| e.scheduled_for == at("2026-01-01T00:01:00Z")).count(), 2);
}
