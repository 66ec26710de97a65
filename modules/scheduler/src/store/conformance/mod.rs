//! The store conformance suite: every behaviour of the [`Store`] trait the engine and the
//! commands rely on, written once against the trait, for any backend.
//!
//! A backend runs it by naming a factory of fresh, empty stores:
//!
//! ```ignore
//! struct Fresh;
//! impl scheduler::store::conformance::StoreFactory for Fresh {
//!     fn fresh(&self) -> scheduler::store::StoreFuture<scheduler::store::conformance::FreshStore> { .. }
//! }
//! scheduler::store_conformance!(Fresh);
//! ```
//!
//! which generates one `#[tokio::test]` per behaviour (named after it), so a failure names
//! the behaviour. SQLite runs it in `tests::store_conformance`; a PostgreSQL store runs the
//! same list. Each behaviour takes an empty store and passes time explicitly (no clock, no
//! engine): what a backend must do is exactly what these functions assert.
//!
//! Backend-specific checks (SQLite's query plans, file checks, WAL, group commit) stay with
//! their backend. Compiled only for tests and with the `testing` feature.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::{ClaimOutcome, ClaimRequest, Finish, FinishOutcome, Finished, HistoryQuery, Store, StoreFuture};
use crate::config::SchedulerConfig;
use crate::task::{Execution, ExecutionId, ExecutionStatus, NewTask, Task, TaskKey, TaskSchedule};

pub mod logs;
pub mod runs;
pub mod tasks;

/// Makes fresh, empty stores of one backend.
pub trait StoreFactory {
    /// A new store with no tasks, executions or audit rows, opened as `store::open` would.
    fn fresh(&self) -> StoreFuture<FreshStore>;
}

/// A fresh store, and whatever must live as long as it (a temporary directory, a scratch
/// schema), dropped after the behaviour.
pub struct FreshStore {
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// Dropped when the behaviour ends.
    pub keep: Box<dyn std::any::Any + Send>,
}

/// Generates one `#[tokio::test]` per conformance behaviour for a [`StoreFactory`] value.
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr) => {
        $crate::store_conformance!(@each $factory;
            tasks::a_taken_name_is_refused_in_its_tenant_but_free_in_another,
            tasks::a_task_is_found_by_id_and_by_name_and_keeps_its_fields,
            tasks::list_filters_by_status_and_bulk_pause_and_resume_return_the_tasks_they_changed,
            tasks::a_pause_of_a_paused_task_changes_nothing_and_audits_nothing,
            tasks::updating_the_schedule_recomputes_the_next_run_and_other_fields_keep_it,
            tasks::resume_refuses_a_completed_once_task,
            tasks::deleting_a_task_keeps_its_history_and_cancels_its_queued_runs,
            tasks::audited_changes_record_who_what_and_the_outcome,
            logs::a_batch_is_read_back_in_order_with_its_streams_and_only_for_its_execution,
            logs::a_batch_for_an_unknown_execution_is_refused_and_writes_nothing,
            logs::lines_after_a_cursor_are_only_the_newer_ones,
            logs::the_stream_filter_keeps_one_stream,
            logs::tail_keeps_the_last_matching_lines_oldest_first_and_limit_caps_them,
            logs::retention_cleanup_deletes_old_log_lines_only,
            runs::a_claim_writes_a_running_row_and_advances_the_next_run_from_the_occurrence,
            runs::an_occurrence_is_claimed_once,
            runs::occurrences_that_came_due_while_claims_failed_run_once_and_one_row_records_the_rest,
            runs::a_claim_ahead_is_queued_under_its_node_until_it_is_marked_dispatched,
            runs::an_undispatched_claim_goes_back_to_the_queue_as_the_same_attempt,
            runs::an_execution_whose_outcome_is_pending_a_write_does_not_block_the_next_occurrence,
            runs::a_failed_attempt_queues_its_retry_which_is_claimed_when_due,
            runs::a_batch_of_outcomes_answers_each_in_order_and_a_stale_one_leaves_the_others_recorded,
            runs::recovery_interrupts_this_nodes_runs_and_queues_their_retries,
            runs::recovery_leaves_the_runs_of_another_live_node_alone,
            runs::cancel_cancels_a_queued_run_and_nothing_else,
            runs::cleanup_deletes_old_finished_executions_in_batches_and_keeps_queued_ones,
            runs::history_filters_by_task_status_since_and_limit,
            runs::stats_report_counters_success_rate_average_and_p95,
            runs::a_backward_clock_jump_opens_an_epoch_in_which_an_occurrence_runs_again,
        );
    };
    (@each $factory:expr; $($group:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fresh = $crate::store::conformance::StoreFactory::fresh(&$factory).await.expect("a fresh store");
                $crate::store::conformance::$group::$name(fresh.store).await;
                drop(fresh.keep);
            }
        )*
    };
}

/// The instant every behaviour starts at.
pub const START: &str = "2026-01-01T00:00:00Z";

/// Parses an instant.
pub fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

/// A new task with the config's defaults, its schedule read at [`START`].
pub fn new_task(name: &str, command: &str, schedule: &str) -> NewTask {
    let schedule = TaskSchedule::parse(schedule, None, None, at(START)).expect("a valid schedule");
    NewTask::new(name, command, schedule, &SchedulerConfig::default().task_defaults())
}

/// Creates a task at [`START`].
pub async fn create(store: &Arc<dyn Store>, task: NewTask) -> Task {
    store.create_task(task, at(START)).await.expect("task created")
}

/// The task as stored now.
pub async fn reload(store: &Arc<dyn Store>, task: &Task) -> Task {
    store.get_task(TaskKey::Id(task.id.clone())).await.expect("get").expect("the task exists")
}

/// A claim at `now` by node `test`: no horizon, a minute of grace.
pub fn claim(now: &str) -> ClaimRequest {
    ClaimRequest {
        now: at(now),
        limit: 100,
        batch: 512,
        node_id: "test".to_owned(),
        misfire_grace: Duration::from_secs(60),
        run_all_limit: 100,
        horizon: Duration::ZERO,
        settled: Vec::new(),
    }
}

/// Claims at `now`.
pub async fn claim_at(store: &Arc<dyn Store>, now: &str) -> ClaimOutcome {
    store.claim_due(claim(now)).await.expect("claim")
}

/// An attempt's end at `now`, after `duration`, retryable, without jitter.
pub fn finish(id: ExecutionId, status: ExecutionStatus, now: &str, duration: Duration) -> Finish {
    Finish {
        execution_id: id,
        status,
        finished_at: at(now),
        duration,
        output: (status == ExecutionStatus::Completed).then(|| serde_json::json!({"ok": true})),
        error: status.is_failure().then(|| "boom".to_owned()),
        retryable: true,
        retry_not_before: None,
        retry_delay_max: Duration::from_secs(60),
        retry_jitter: false,
    }
}

/// Records an attempt's end, which must find it running.
pub async fn finished(store: &Arc<dyn Store>, finish: Finish) -> Finished {
    match store.finish_execution(finish).await.expect("finish") {
        FinishOutcome::Finished(finished) => *finished,
        FinishOutcome::NotRunning => panic!("the execution was running"),
    }
}

/// A task's executions, oldest first.
pub async fn executions(store: &Arc<dyn Store>, task: &Task) -> Vec<Execution> {
    let query = HistoryQuery { task_id: Some(task.id.clone()), limit: Some(1_000_000), ..HistoryQuery::default() };
    let mut rows = store.history(query).await.expect("history");
    rows.reverse();
    rows
}
