//! `system:emit`: publishes an event from the system module, so tests and scripts can
//! drive event subscribers.

use serde::{Deserialize, Serialize};
use systemprompt_module_sdk::{Call, Command, CommandError};

use crate::System;

/// `system:emit --event <name> --payload <json>`.
pub enum Emit {}

/// Parameters of [`Emit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitParams {
    /// The event's local name.
    pub event: String,
    /// Its payload.
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl Command for Emit {
    const NAME: &'static str = "system:emit";
    type Params = EmitParams;
    type Output = serde_json::Value;
}

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
