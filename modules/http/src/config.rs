//! The http module's config (`config:` of its `module.yaml`, merged with the host config's
//! overrides). Unknown keys are refused, so a typo in an override is an error, not silence.
//!
//! Defaults: any host, any network except link-local and the cloud metadata addresses.
//! Loopback and private networks stay allowed by default: a scheduler commonly calls
//! services on its own machine or network (and the tests need loopback); an operator who
//! exposes task creation to less trusted people adds them to `deniedNetworks`.

use serde::Deserialize;

/// The module's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpConfig {
    /// Host patterns a request may go to: `example.com` (exactly) or `*.example.com`
    /// (any subdomain, not the domain itself); empty allows any host.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// CIDRs no request may connect to, checked on literal IPs and on every resolved
    /// address.
    #[serde(default = "default_denied_networks")]
    pub denied_networks: Vec<String>,
    /// How much of a response body is kept in the output and the log.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

fn default_denied_networks() -> Vec<String> {
    ["169.254.0.0/16", "fe80::/10", "169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32"]
        .map(str::to_owned)
        .to_vec()
}

fn default_max_body_bytes() -> usize {
    64 * 1024
}
