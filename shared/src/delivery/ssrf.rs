//! The SSRF guard's address policy: which IP addresses a delivery may connect to.
//!
//! Subscriber URLs are chosen by whoever configures a subscription, so without this guard a URL
//! could make the dispatcher call its own network: the instance metadata service at
//! `169.254.169.254`, a VPC endpoint, a service on loopback. Only globally routable unicast
//! addresses are allowed; IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4)
//! are judged by the IPv4 address they carry.
//!
//! A deployment may open chosen private networks to deliveries ([`TargetPolicy`], the
//! template's `AllowedPrivateNetworks`), or all of them (`AllowPrivateTargets`, kept for
//! compatibility). Link-local addresses and the cloud metadata services (`169.254.169.254`,
//! `fd00:ec2::254`) stay blocked whatever the policy says.
//!
//! Ranges: the IANA special-purpose registries,
//! <https://www.iana.org/assignments/iana-ipv4-special-registry/> and
//! <https://www.iana.org/assignments/iana-ipv6-special-registry/>.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not a deliverable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedRange {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` (RFC 1918).
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16` (where cloud metadata services live), `fe80::/10`.
    LinkLocal,
    /// The EC2 instance metadata service's IPv6 address, `fd00:ec2::254`.
    Metadata,
    /// `fc00::/7` (RFC 4193), and the deprecated site-local `fec0::/10`.
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` (RFC 2544).
    Benchmarking,
    /// Protocol assignments, reserved and unallocated space: `192.0.0.0/24`, `192.88.99.0/24`,
    /// `240.0.0.0/4`, `100::/64`, `2001::/23`, `64:ff9b:1::/48`, and IPv6 outside `2000::/3`.
    Reserved,
}

impl BlockedRange {
    fn describe(self) -> &'static str {
        match self {
            BlockedRange::Unspecified => "an unspecified address",
            BlockedRange::Loopback => "a loopback address",
            BlockedRange::Private => "a private address",
            BlockedRange::SharedAddressSpace => "a carrier-grade NAT address",
            BlockedRange::LinkLocal => "a link-local address",
            BlockedRange::Metadata => "the instance metadata service",
            BlockedRange::UniqueLocal => "a unique-local address",
            BlockedRange::Multicast => "a multicast address",
            BlockedRange::Broadcast => "the broadcast address",
            BlockedRange::Documentation => "a documentation address",
            BlockedRange::Benchmarking => "a benchmarking address",
            BlockedRange::Reserved => "a reserved address",
        }
    }
}

impl BlockedRange {
    /// Ranges no policy opens: where a cloud's metadata service answers.
    pub fn is_never_allowed(self) -> bool {
        matches!(self, BlockedRange::LinkLocal | BlockedRange::Metadata)
    }

    fn remedy(self) -> &'static str {
        if self.is_never_allowed() {
            "which no delivery may reach, whatever AllowedPrivateNetworks says"
        } else {
            "which subscribers may not use unless AllowedPrivateNetworks includes it"
        }
    }
}

/// An address the dispatcher refuses to connect to, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{address} is {}, {}", .range.describe(), .range.remedy())]
pub struct BlockedAddress {
    pub address: IpAddr,
    pub range: BlockedRange,
}

/// Which non-public addresses deliveries may reach, beyond every public one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Public addresses only: the default.
    #[default]
    PublicOnly,
    /// Also the addresses in these networks (`AllowedPrivateNetworks`).
    Networks(Vec<IpNet>),
    /// Every address but the never-allowed ones (`AllowPrivateTargets=true`, deprecated).
    AllPrivate,
}

impl TargetPolicy {
    /// The policy of a comma-separated CIDR list (`10.0.0.0/8, fd12:3456::/48`); an empty list is
    /// [`TargetPolicy::PublicOnly`]. A network that lies entirely in a never-allowed range is
    /// refused, since it could never take effect.
    pub fn from_networks(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let network: IpNet = item.parse().map_err(|_| {
                format!("`{item}` is not a network in CIDR notation, such as 10.0.0.0/8")
            })?;
            if let Err(blocked) = check_target(network.network())
                && blocked.range.is_never_allowed()
                && never_allowed_network(&network)
            {
                return Err(format!(
                    "`{item}` is {}, which deliveries never reach",
                    blocked.range.describe()
                ));
            }
            networks.push(network.trunc());
        }
        Ok(if networks.is_empty() {
            Self::PublicOnly
        } else {
            Self::Networks(networks)
        })
    }

    /// `Ok` when a delivery may connect to `address` under this policy.
    pub fn check(&self, address: IpAddr) -> Result<(), BlockedAddress> {
        let Err(blocked) = check_target(address) else {
            return Ok(());
        };
        if blocked.range.is_never_allowed() {
            return Err(blocked);
        }
        let allowed = match self {
            Self::PublicOnly => false,
            Self::AllPrivate => true,
            Self::Networks(networks) => {
                // An IPv6 form of an IPv4 address is judged as that IPv4 address, as above.
                let judged = match address {
                    IpAddr::V6(v6) => embedded_v4(v6).map_or(address, IpAddr::V4),
                    v4 => v4,
                };
                networks
                    .iter()
                    .any(|n| n.contains(&judged) || n.contains(&address))
            }
        };
        if allowed { Ok(()) } else { Err(blocked) }
    }
}

/// Whether every address of `network` is link-local or the metadata service.
fn never_allowed_network(network: &IpNet) -> bool {
    let ends = [network.network(), network.broadcast()];
    ends.iter().all(|a| {
        check_target(*a)
            .err()
            .is_some_and(|b| b.range.is_never_allowed())
    })
}

/// `Ok` when `address` is a public unicast address a delivery may connect to.
pub fn check_target(address: IpAddr) -> Result<(), BlockedAddress> {
    let range = match address {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    };
    match range {
        Some(range) => Err(BlockedAddress { address, range }),
        None => Ok(()),
    }
}

/// Whether `address` is a public unicast address.
pub fn is_public(address: IpAddr) -> bool {
    check_target(address).is_ok()
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn blocked_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    use BlockedRange::*;
    const RANGES: &[([u8; 4], u32, BlockedRange)] = &[
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, range)| *range)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    use BlockedRange::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return blocked_v4(v4);
    }
    const RANGES: &[([u16; 8], u32, BlockedRange)] = &[
        // Before fc00::/7, which holds it.
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, Metadata),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Reserved),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reserved),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, UniqueLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    if let Some((_, _, range)) = RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        return Some(*range);
    }
    // Only 2000::/3 is allocated for global unicast; anything else is reserved or special.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(Reserved);
    }
    None
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` (RFC 6052) and 6to4 `2002:aabb:ccdd::/48` (RFC 3056).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    {
        return Some(low32);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn a_network_list_opens_exactly_its_networks() {
        let policy = TargetPolicy::from_networks("10.1.0.0/16, fd12:3456::/32").expect("valid");
        for allowed in [
            "10.1.2.3",
            "10.1.255.255",
            "fd12:3456::1",
            "::ffff:10.1.0.9",
            "8.8.8.8",
        ] {
            assert_eq!(policy.check(ip(allowed)), Ok(()), "{allowed}");
        }
        for (blocked, range) in [
            ("10.2.0.1", BlockedRange::Private),
            ("192.168.1.1", BlockedRange::Private),
            ("127.0.0.1", BlockedRange::Loopback),
            ("fd12:3457::1", BlockedRange::UniqueLocal),
        ] {
            assert_eq!(
                policy.check(ip(blocked)).map_err(|b| b.range),
                Err(range),
                "{blocked}"
            );
        }
    }

    #[test]
    fn metadata_and_link_local_addresses_are_never_allowed_whatever_the_policy() {
        let wide = TargetPolicy::from_networks("0.0.0.0/0, ::/0").expect("valid");
        for policy in [TargetPolicy::AllPrivate, wide, TargetPolicy::PublicOnly] {
            for (address, range) in [
                ("169.254.169.254", BlockedRange::LinkLocal),
                ("169.254.0.1", BlockedRange::LinkLocal),
                ("fd00:ec2::254", BlockedRange::Metadata),
                ("fe80::1", BlockedRange::LinkLocal),
                ("::ffff:169.254.169.254", BlockedRange::LinkLocal),
            ] {
                assert_eq!(
                    policy.check(ip(address)).map_err(|b| b.range),
                    Err(range),
                    "{address} under {policy:?}"
                );
            }
        }
        // Its neighbours in fc00::/7 are ordinary unique-local addresses.
        assert_eq!(
            TargetPolicy::from_networks("fd00::/8")
                .expect("valid")
                .check(ip("fd00:ec2::253")),
            Ok(())
        );
    }

    #[test]
    fn all_private_opens_every_range_but_the_never_allowed() {
        for address in ["127.0.0.1", "10.0.0.1", "::1", "fd12::1", "100.64.0.1"] {
            assert_eq!(
                TargetPolicy::AllPrivate.check(ip(address)),
                Ok(()),
                "{address}"
            );
        }
    }

    #[test]
    fn a_bad_or_useless_network_list_is_refused_naming_the_item() {
        assert_eq!(
            TargetPolicy::from_networks(" , "),
            Ok(TargetPolicy::PublicOnly)
        );
        for (list, named) in [
            ("10.0.0.0/8, 10.0.0.0", "`10.0.0.0`"),
            ("10.0.0.0/33", "`10.0.0.0/33`"),
            ("private", "`private`"),
            ("169.254.0.0/16", "`169.254.0.0/16`"),
            ("fd00:ec2::254/128", "`fd00:ec2::254/128`"),
        ] {
            let err = TargetPolicy::from_networks(list).expect_err(list);
            assert!(err.contains(named), "{list}: {err}");
        }
        // A wider network that includes link-local space is fine: that part stays blocked.
        assert!(TargetPolicy::from_networks("169.0.0.0/8").is_ok());
    }

    #[test]
    fn the_refusal_says_what_would_open_the_address_or_that_nothing_would() {
        let private = TargetPolicy::PublicOnly
            .check(ip("10.0.0.1"))
            .expect_err("blocked");
        assert!(
            private
                .to_string()
                .contains("unless AllowedPrivateNetworks includes it")
        );
        let metadata = TargetPolicy::AllPrivate
            .check(ip("169.254.169.254"))
            .expect_err("blocked");
        assert!(
            metadata
                .to_string()
                .contains("whatever AllowedPrivateNetworks says")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range_of(address: &str) -> Option<BlockedRange> {
        let ip: IpAddr = address.parse().expect("test addresses parse");
        check_target(ip).err().map(|b| b.range)
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:81b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert_eq!(range_of(address), None, "{address} should be public");
        }
    }

    #[test]
    fn special_ipv4_ranges_are_blocked_with_their_name() {
        use BlockedRange::*;
        for (address, range) in [
            ("0.0.0.0", Unspecified),
            ("0.255.1.2", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("192.0.0.8", Reserved),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.99", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("192.88.99.1", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
        ] {
            assert_eq!(range_of(address), Some(range), "{address}");
        }
    }

    #[test]
    fn special_ipv6_ranges_are_blocked_with_their_name() {
        use BlockedRange::*;
        for (address, range) in [
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fec0::1", UniqueLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2001:1ff::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            ("4000::1", Reserved),
            ("1::1", Reserved),
        ] {
            assert_eq!(range_of(address), Some(range), "{address}");
        }
    }

    #[test]
    fn ipv6_forms_of_blocked_ipv4_addresses_are_blocked() {
        use BlockedRange::*;
        for (address, range) in [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:0.0.0.0", Unspecified),
            ("::127.0.0.1", Loopback),
            ("::192.168.0.1", Private),
            ("::169.254.169.254", LinkLocal),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::100.64.0.1", SharedAddressSpace),
            ("2002:7f00:0001::1", Loopback),
            ("2002:a9fe:a9fe::", LinkLocal),
        ] {
            assert_eq!(range_of(address), Some(range), "{address}");
        }
    }

    #[test]
    fn the_error_names_the_address_and_the_range() {
        let err = check_target("169.254.169.254".parse().expect("valid")).expect_err("blocked");
        let text = err.to_string();
        assert!(text.contains("169.254.169.254"), "{text}");
        assert!(text.contains("link-local"), "{text}");
        assert!(!is_public("::1".parse().expect("valid")));
        assert!(is_public("1.1.1.1".parse().expect("valid")));
    }
}
