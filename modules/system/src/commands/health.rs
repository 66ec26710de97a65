//! `system:health`: uptime, and the loaded modules as the host reports them.

use std::sync::Arc;

use system_api::{HealthParams, HealthReport};
use systemprompt_module_sdk::host_commands::{ListModules, ListModulesParams};
use systemprompt_module_sdk::{Call, CallOptions, CommandError};

use crate::System;

pub(crate) async fn run(
    module: Arc<System>,
    _params: HealthParams,
    call: Call<'static>,
) -> Result<HealthReport, CommandError> {
    let options = CallOptions::on_behalf_of(&call);
    // The host answers `host:modules`; a host that does not (a fake one) still gets a report.
    let modules = match module.host.call_with::<ListModules>(&ListModulesParams {}, &options).await {
        Ok(list) => list.into_iter().map(|info| info.name).collect(),
        Err(_) => Vec::new(),
    };
    Ok(HealthReport { status: "ok".to_owned(), uptime_secs: module.started.elapsed().as_secs_f64(), modules })
}
