//! Where a request may go: the host patterns (`allowedHosts`) and the denied networks
//! (`deniedNetworks`), checked on the URL (literal IPs) and on every address a name
//! resolves to (the [`FilteringResolver`] given to reqwest), so a DNS name pointing at
//! 169.254.169.254 is refused before any connection is made.
//!
//! Invariant: every connection reqwest makes goes to an address this module checked —
//! names go through the resolver, literal IPs through [`Policy::check_url`], and redirects
//! are re-checked per hop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::HttpConfig;

/// A network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a /32 or /128).
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| format!("`{text}` is not a CIDR"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }

    /// Whether `ip` is inside; an IPv4-mapped IPv6 address counts as its IPv4 address.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The checked config.
#[derive(Debug)]
pub(crate) struct Policy {
    allowed_hosts: Vec<String>,
    denied: Vec<Cidr>,
}

impl Policy {
    pub(crate) fn new(config: &HttpConfig) -> Result<Policy, String> {
        let denied = config.denied_networks.iter().map(|n| Cidr::parse(n)).collect::<Result<Vec<_>, _>>()?;
        let allowed_hosts = config.allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        Ok(Policy { allowed_hosts, denied })
    }

    /// Whether `ip` is in a denied network.
    pub(crate) fn is_denied(&self, ip: IpAddr) -> bool {
        self.denied.iter().any(|cidr| cidr.contains(ip))
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.')
            }
            None => *pattern == host,
        })
    }

    /// The rules a URL must pass before anything is sent: http/https, a host the
    /// allow-list admits, and a literal IP outside the denied networks. The error states
    /// the rule.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the URL's scheme must be http or https, not `{}`", url.scheme()));
        }
        let Some(name) = url.host_str() else {
            return Err("the URL has no host".into());
        };
        // An IPv6 literal comes bracketed; a literal IP is never resolved, so it is checked here.
        let name = name.trim_start_matches('[').trim_end_matches(']').to_owned();
        let ip = name.parse::<IpAddr>().ok();
        if !self.host_allowed(&name) {
            return Err(format!("the host `{name}` is not in the http module's allowedHosts"));
        }
        if let Some(ip) = ip.filter(|ip| self.is_denied(*ip)) {
            return Err(format!("the address {ip} is in the http module's deniedNetworks"));
        }
        Ok(())
    }
}

/// The system resolver, with the denied addresses removed; a name with only denied
/// addresses fails to resolve (reqwest reports it as a connect error, which the request
/// command turns into a refusal).
pub(crate) struct FilteringResolver {
    pub(crate) policy: Arc<Policy>,
}

/// The message a refused resolution carries, so the command can tell it from a DNS failure.
pub(crate) const REFUSED_MARK: &str = "refused by the http module's deniedNetworks";

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| !policy.is_denied(a.ip())).collect();
            if allowed.is_empty() && !found.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> =
                    format!("`{host}` resolves only to addresses {REFUSED_MARK}").into();
                return Err(error);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
