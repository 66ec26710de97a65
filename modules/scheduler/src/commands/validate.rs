//! `scheduler:validate --schedule <expr> [--timezone] [--after]`: parses a schedule exactly
//! as a task would store it, and shows its kind, canonical text, zone, explanation and
//! next 5 fire times.
//!
//! An invalid schedule or time zone is an error `invalid_params` carrying the schedule
//! language's message, which names the field and the rule (so the CLI exits 2). Nothing is
//! stored. It runs inline (parsing and explaining do no IO).

use scheduler_api::runs::{ValidateOutput, ValidateParams};
use systemprompt_module_sdk::{Call, CommandError};

use super::common::{parse_instant, schedule_error};
use super::next::fires;
use crate::module::Scheduler;
use crate::task::TaskSchedule;

/// How many fire times the answer lists.
const SHOWN: usize = 5;

pub(crate) fn run(
    module: &Scheduler,
    params: ValidateParams,
    _call: &Call<'_>,
) -> Result<ValidateOutput, CommandError> {
    let after = match params.after.as_deref() {
        Some(text) => parse_instant("after", text)?,
        None => module.clock.now(),
    };
    let schedule =
        TaskSchedule::parse(&params.schedule, params.timezone, None, after).map_err(|error| schedule_error(&error))?;
    Ok(ValidateOutput {
        valid: true,
        kind: schedule.kind().as_str().to_owned(),
        expression: schedule.expression().to_owned(),
        timezone: schedule.timezone().to_owned(),
        explain: schedule.schedule().explain(after).to_string(),
        next: fires(&schedule, after, SHOWN, None),
    })
}
