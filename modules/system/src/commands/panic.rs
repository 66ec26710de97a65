//! `system:panic`: panics inside the handler, to prove the host survives it.

use system_api::PanicParams;
use systemprompt_module_sdk::{Call, CommandError};

use crate::System;

#[allow(clippy::panic, reason = "panicking is this command's whole purpose")]
pub(crate) fn run(_module: &System, params: PanicParams, _call: &Call<'_>) -> Result<serde_json::Value, CommandError> {
    panic!("{}", params.message.unwrap_or_else(|| "system:panic was asked to panic".to_owned()))
}
