//! `system:health`: uptime, and the loaded modules as the host reports them.

use std::sync::Arc;

use system_api::{HealthParams, HealthReport};
use systemprompt_module_sdk::{Call, CallOptions, CommandError};

use crate::System;

pub(crate) async fn run(
    module: Arc<System>,
    _params: HealthParams,
    call: Call<'static>,
) -> Result<HealthReport, CommandError> {
    let options = CallOptions {
        timeout: None,
        correlation_id: Some(call.correlation_id().to_owned()),
        cancel: Some(call.cancellation_token()),
    };
    // The host answers `host:modules`; a host that does not (a fake one) still gets a report.
    let modules = match module.host.dispatch("host:modules", &serde_json::json!({}), &options).await {
        Ok(serde_json::Value::Array(list)) => {
            list.iter().filter_map(|m| m.get("name").and_then(|n| n.as_str()).map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    };
    Ok(HealthReport { status: "ok".to_owned(), uptime_secs: module.started.elapsed().as_secs_f64(), modules })
}
