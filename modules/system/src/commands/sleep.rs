//! `system:sleep`: waits on the module's runtime and stops early when the call is
//! cancelled (its deadline passed), replying `cancelled` — a reply the host drops. With
//! `stop_ms` it takes that long to stop once cancelled, and counts the cancellation only
//! when stopped, so tests can see whether the caller was answered before or after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use system_api::{SleepOutput, SleepParams};
use systemprompt_module_sdk::{Call, CommandError};

use crate::System;

pub(crate) async fn run(
    module: Arc<System>,
    params: SleepParams,
    call: Call<'static>,
) -> Result<SleepOutput, CommandError> {
    let started = Instant::now();
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(params.ms)) => {
            Ok(SleepOutput { slept_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX) })
        }
        () = call.cancelled() => {
            tokio::time::sleep(Duration::from_millis(params.stop_ms)).await;
            module.sleeps_cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(request_id = call.request_id(), after_ms = started.elapsed().as_millis(), "Sleep cancelled.");
            Err(CommandError::new("cancelled", "system:sleep was cancelled"))
        }
    }
}
