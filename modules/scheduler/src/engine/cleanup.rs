//! Retention cleanup: every `cleanupInterval`, executions and logs older than
//! `historyRetentionDays` are deleted in bounded batches (one short transaction each), so
//! the writer is never held for long. Running and queued executions are never deleted, nor
//! is the audit log.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;

use super::Shared;

/// Rows deleted per transaction.
pub(super) const CLEANUP_BATCH: usize = 1_000;

pub(super) async fn cleanup_loop(shared: Arc<Shared>) {
    let interval = Duration::from_millis(shared.config.cleanup_interval);
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shared.shutdown.cancelled() => return,
        }
        run_cleanup(&shared).await;
    }
}

/// One cleanup pass; returns the rows deleted.
pub(super) async fn run_cleanup(shared: &Shared) -> u64 {
    let retention = SignedDuration::from_hours(24 * i64::from(shared.config.history_retention_days));
    let Ok(before) = shared.clock.now().checked_sub(retention) else {
        return 0;
    };
    let mut deleted = 0;
    loop {
        match shared.store.cleanup(before, CLEANUP_BATCH).await {
            Ok(batch) => {
                deleted += batch.executions + batch.logs;
                if batch.executions < CLEANUP_BATCH as u64 && batch.logs < CLEANUP_BATCH as u64 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            Err(error) => {
                tracing::warn!(%error, "History cleanup failed; retrying at the next interval.");
                break;
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, %before, "Deleted old execution history.");
    }
    deleted
}
