//! `http:check-task`: the scheduler's create/update-time check of a task that will call
//! `http:request`; the same rules the runner applies when the task runs.

use http_api::{Request, RequestParams};
use scheduler_api::logs::{CheckTaskOutput, CheckTaskParams};
use systemprompt_module_sdk::{Call, Command, CommandError};

use crate::Http;
use crate::commands::prepare::prepare;

pub(crate) fn run(module: &Http, params: CheckTaskParams, _call: &Call<'_>) -> Result<CheckTaskOutput, CommandError> {
    if params.command != Request::NAME {
        return Err(CommandError::invalid_params(format!(
            "the http module runs tasks only with `{}`, not `{}`",
            Request::NAME,
            params.command
        )));
    }
    let request: RequestParams = serde_json::from_value(params.data)
        .map_err(|error| CommandError::invalid_params(format!("the data of an `{}` task: {error}", Request::NAME)))?;
    prepare(&module.policy, &request)?;
    Ok(CheckTaskOutput {})
}
