//! `system:echo`: returns its message. The no-op the bus benchmark measures.

use system_api::{EchoOutput, EchoParams};
use systemprompt_module_sdk::{Call, CommandError};

use crate::System;

pub(crate) fn run(_module: &System, params: EchoParams, _call: &Call<'_>) -> Result<EchoOutput, CommandError> {
    Ok(EchoOutput { message: params.message })
}
