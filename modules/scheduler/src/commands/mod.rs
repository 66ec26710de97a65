//! The `scheduler:*` command handlers: the only code that changes tasks. Each validates its
//! input, writes its audit row and publishes its event. One file per command.

use systemprompt_module_sdk::Router;

use crate::module::Scheduler;

/// Every command the module owns, one line each.
pub(crate) fn routes(_router: &mut Router<Scheduler>) {}
