//! `system:fail`: always fails, so callers can test their error paths.

use system_api::FailParams;
use systemprompt_module_sdk::{Call, CommandError};

use crate::System;

pub(crate) fn run(_module: &System, params: FailParams, _call: &Call<'_>) -> Result<serde_json::Value, CommandError> {
    Err(CommandError::failed(params.message.unwrap_or_else(|| "system:fail always fails".to_owned())))
}
