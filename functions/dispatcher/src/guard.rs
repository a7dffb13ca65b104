//! The SSRF guard on the wire: a DNS resolver that hands the HTTP client only public addresses,
//! and the check for URLs whose host is an IP literal (which the client never resolves).
//!
//! Filtering inside the resolver, rather than resolving once to check and again to connect, means
//! the address checked is the address connected to: a DNS answer that changes between the two
//! (rebinding) cannot slip a private address through.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hookpost_shared::delivery::ssrf::{BlockedAddress, TargetPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver and drops every address the policy blocks.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: TargetPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = Arc::clone(&self.policy);
        let check_target = move |ip: IpAddr| policy.check(ip);
        Box::pin(async move {
            // Port 0: reqwest substitutes the URL's port.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, blocked): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|addr| check_target(addr.ip()).is_ok());
            if allowed.is_empty() {
                if let Some(err) = blocked
                    .first()
                    .and_then(|addr| check_target(addr.ip()).err())
                {
                    return Err(Box::new(err) as Box<dyn std::error::Error + Send + Sync>);
                }
                return Err(format!("`{host}` resolved to no address").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The blocked address a URL names literally, if any.
pub(crate) fn blocked_literal(url: &url::Url, policy: &TargetPolicy) -> Option<BlockedAddress> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    policy.check(ip).err()
}

/// The [`BlockedAddress`] somewhere in an error's cause chain: how a refusal by
/// [`GuardedResolver`] is told apart from an ordinary connection failure.
pub(crate) fn find_blocked(err: &(dyn std::error::Error + 'static)) -> Option<BlockedAddress> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(blocked) = e.downcast_ref::<BlockedAddress>() {
            return Some(*blocked);
        }
        current = e.source();
    }
    None
}
