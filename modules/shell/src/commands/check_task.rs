//! `shell:check-task`: the scheduler's check-task convention for `shell:run` tasks.
//! `scheduler:create` and `scheduler:update` call it before writing a task, so a task that
//! could never run (bad shape, a refused program, a script where scripts are off, `run_as`
//! on a host that is not root) is refused with the rule, and nothing is written. `shell:run`
//! checks the same rules again at run time.
//!
//! It starts nothing; it only reads the file system to resolve the program on `PATH`.

use std::sync::Arc;

use shell_api::{CheckTaskOutput, CheckTaskParams, Run, RunParams};
use systemprompt_module_sdk::{Call, Command, CommandError};

use super::rules;
use crate::Shell;

pub(crate) async fn run(
    module: Arc<Shell>,
    params: CheckTaskParams,
    _call: Call<'static>,
) -> Result<CheckTaskOutput, CommandError> {
    if params.command != Run::NAME {
        return Err(CommandError::invalid_params(format!(
            "shell:check-task checks {} tasks, not {}",
            Run::NAME,
            params.command
        )));
    }
    let data: RunParams = serde_json::from_value(params.data)
        .map_err(|error| CommandError::invalid_params(format!("{}: task data: {error}", Run::NAME)))?;
    let resolved = rules::check(&module.config, &data)?;
    if let Some(run_as) = &data.run_as {
        rules::resolve_run_as(run_as)?;
    }
    if let Some(cwd) = &data.cwd {
        rules::check_cwd(cwd)?;
    }
    Ok(CheckTaskOutput { program: Some(resolved.program.display().to_string()) })
}
