//! `system:emit`: publishes an event from the system module, so tests and scripts can
//! drive event subscribers.

use system_api::EmitParams;
use systemprompt_module_sdk::{Call, CommandError};

use crate::System;

pub(crate) fn run(module: &System, params: EmitParams, _call: &Call<'_>) -> Result<serde_json::Value, CommandError> {
    if params.event.is_empty() || params.event.contains(':') {
        return Err(CommandError::invalid_params(format!(
            "event must be a local name without ':', got '{}'",
            params.event
        )));
    }
    module.host.publish(&params.event, &params.payload);
    Ok(serde_json::json!({ "published": format!("system:{}", params.event) }))
}
