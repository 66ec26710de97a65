//! The recorder: one task that writes the outcomes of ended attempts in batches.
//!
//! An attempt that ends hands its outcome to the recorder ([`Recorder::record`]) and waits
//! for the answer. The recorder takes every outcome waiting (up to [`BATCH`]) and records
//! them with one [`Store::finish_executions`] call: one writer job, so one savepoint and one
//! commit for all of them instead of one each, which is most of what recording costs. While
//! a batch is written, and for [`LINGER`] after it, the next one gathers, so batches grow
//! with the load by themselves (group commit): a commit costs tens of µs of system calls
//! whatever it holds, and a load of one fire a millisecond would otherwise pay one per fire.
//! An idle engine writes a lone outcome at once; under load an outcome waits at most a
//! commit plus [`LINGER`] to be written. Nothing waits on that but the outcome's own answer:
//! the attempt's slot is free already and the next fires are dispatched meanwhile.
//!
//! Invariant: outcomes reach the store in the order they were handed over, and an outcome
//! is queued by the time [`Recorder::record`] returns (its caller then gives its slot back:
//! see `run::record`).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::{Finish, FinishOutcome, Store, StoreError};

/// Most outcomes recorded in one store call (the store's writer groups at most
/// `MAX_GROUP` jobs; one batch is one job).
const BATCH: usize = 1_024;

/// How long the recorder lets outcomes gather after writing a batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

type Answer = oneshot::Sender<Result<FinishOutcome, StoreError>>;

/// The handle attempts hand their outcomes to; the task behind it ends when it is dropped.
pub(super) struct Recorder {
    queue: mpsc::UnboundedSender<(Finish, Answer)>,
}

impl Recorder {
    /// Starts the recording task on the current runtime.
    pub(super) fn start(store: Arc<dyn Store>) -> (Recorder, JoinHandle<()>) {
        let (queue, outcomes) = mpsc::unbounded_channel();
        (Recorder { queue }, tokio::spawn(write_batches(store, outcomes)))
    }

    /// Queues an outcome now; the future answers once it is committed (or refused).
    pub(super) fn record(&self, finish: Finish) -> impl Future<Output = Result<FinishOutcome, StoreError>> + use<> {
        let (answer, answered) = oneshot::channel();
        let queued = self.queue.send((finish, answer)).is_ok();
        async move {
            if !queued {
                return Err(StoreError::Closed);
            }
            // A batch the store answered short leaves its last outcomes unanswered: they
            // are reported failed and recorded again by their caller.
            answered.await.unwrap_or_else(|_| Err(StoreError::Database("the outcome was not answered".to_owned())))
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut outcomes: mpsc::UnboundedReceiver<(Finish, Answer)>) {
    let mut waiting = Vec::with_capacity(BATCH);
    while outcomes.recv_many(&mut waiting, BATCH).await > 0 {
        let (finishes, answers): (Vec<Finish>, Vec<Answer>) = waiting.drain(..).unzip();
        match store.finish_executions(finishes).await {
            Ok(recorded) => {
                for (answer, outcome) in answers.into_iter().zip(recorded) {
                    // The attempt may have stopped waiting (a crash); nothing to do.
                    let _ = answer.send(outcome);
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
        tokio::time::sleep(LINGER).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Recorder;
    use crate::store::{Finish, FinishOutcome, SqliteStore, StoreError};
    use crate::task::{ExecutionId, ExecutionStatus};
    use crate::testing::PausedClockStore;

    fn outcome_of(id: i64) -> Finish {
        Finish {
            execution_id: ExecutionId(id),
            status: ExecutionStatus::Completed,
            finished_at: "2026-01-01T00:00:00Z".parse().expect("an instant"),
            duration: Duration::from_millis(1),
            output: None,
            error: None,
            retryable: false,
            retry_not_before: None,
            retry_delay_max: Duration::from_secs(60),
            retry_jitter: false,
        }
    }

    /// Outcomes handed over while the recorder is busy are written together, each answered
    /// with its own result: here executions that do not exist (`NotRunning`), and the one
    /// the store refused as a full disk.
    #[tokio::test(flavor = "current_thread")]
    async fn outcomes_queued_together_are_one_store_call_and_each_gets_its_own_answer() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("scheduler.db")).expect("open"));
        let store = Arc::new(PausedClockStore::new(sqlite));
        store.fail_finishes(1);
        let (recorder, task) = Recorder::start(store.clone());
        // The recorder task has not run yet (one thread, no await so far): all are queued.
        let answers: Vec<_> = (1..=100).map(|id| recorder.record(outcome_of(id))).collect();
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await);
        }
        assert_eq!(store.finish_batches(), 1, "one store call for the hundred outcomes");
        assert!(matches!(results[0], Err(StoreError::DiskFull(_))), "{:?}", results[0]);
        assert!(results[1..].iter().all(|result| matches!(result, Ok(FinishOutcome::NotRunning))), "{results:?}");
        drop(recorder);
        task.await.expect("the recorder ends when its handle is dropped");
    }
}
