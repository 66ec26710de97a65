//! The http module: `http:request` runs one HTTP request for a scheduled task, and
//! `http:check-task` refuses at create time a task it would refuse at run time.
//!
//! Built on the module template of `docs/ARCHITECTURE.md`. One reqwest client per module
//! (rustls with ring, no proxy from the environment, the filtering resolver, redirects
//! re-checked per hop), so connections are pooled across calls and every connection goes
//! to an address the policy admits.

use std::sync::Arc;

use http_api::{CheckTask, Request};
use systemprompt_module_sdk::{Host, Module, ModuleContext, ModuleError, Router};

mod commands;
mod config;
mod policy;
#[cfg(test)]
mod tests;

// Re-exports. Consider semver implications carefully.
pub use config::HttpConfig;

use policy::{FilteringResolver, Policy};

/// The most redirects followed; each is re-checked against the policy.
const MAX_REDIRECTS: usize = 5;

/// The module's state.
pub struct Http {
    host: Host,
    client: reqwest::Client,
    policy: Arc<Policy>,
    config: HttpConfig,
}

impl Module for Http {
    const NAME: &'static str = "http";
    type Config = HttpConfig;

    fn init(config: HttpConfig, cx: ModuleContext) -> Result<Self, ModuleError> {
        let policy =
            Arc::new(Policy::new(&config).map_err(|e| ModuleError::new(format!("http config: deniedNetworks: {e}")))?);
        let redirect_policy = Arc::clone(&policy);
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match redirect_policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(rule) => attempt.error(rule),
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(concat!("systemprompt-http/", env!("CARGO_PKG_VERSION")))
            // A proxy would resolve names itself, past the denied-network check.
            .no_proxy()
            .dns_resolver(Arc::new(FilteringResolver { policy: Arc::clone(&policy) }))
            .redirect(redirect)
            .build()
            .map_err(|e| ModuleError::new(format!("http client: {e}")))?;
        Ok(Http { host: cx.host().clone(), client, policy, config })
    }

    fn routes(router: &mut Router<Self>) {
        router.spawn::<Request, _, _>(commands::request::run).sync::<CheckTask, _>(commands::check_task::run);
    }
}

systemprompt_module_sdk::export_module!(Http);
