//! `cidr` values: an IPv4 or IPv6 network, matched against event strings that are IP addresses.
//!
//! Parsed with the standard library (`IpAddr`) and checked with a mask: a dependency such as
//! `ipnet` would add nothing these few lines do not. As EventBridge's matcher does, the prefix
//! length must be below the address width (at most 31 for IPv4, 127 for IPv6): one address is
//! written as the address itself, an exact value
//! (<https://github.com/aws/event-ruler/blob/main/src/main/software/amazon/event/ruler/CIDR.java>).
//! Host bits set in the network address are ignored (`10.0.0.7/24` is `10.0.0.0/24`). An
//! IPv4-mapped IPv6 address in an event (`::ffff:10.0.0.1`) is read as the IPv4 address, as
//! Java's address parser behind that matcher reads it.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let Some((address, prefix)) = text.split_once('/') else {
            return Err(format!(
                "`{text}` is not a CIDR block: write an address, `/` and a prefix length, e.g. `10.0.0.0/24`"
            ));
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IPv4 or IPv6 address"))?;
        let prefix: u32 = prefix
            .parse()
            .map_err(|_| format!("`{prefix}` is not a prefix length (a whole number of bits)"))?;
        match address {
            IpAddr::V4(v4) => {
                if prefix >= 32 {
                    return Err(width_error("IPv4", 32, prefix));
                }
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                Ok(Cidr::V4 {
                    network: u32::from(v4) & mask,
                    mask,
                })
            }
            IpAddr::V6(v6) => {
                if prefix >= 128 {
                    return Err(width_error("IPv6", 128, prefix));
                }
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                Ok(Cidr::V6 {
                    network: u128::from(v6) & mask,
                    mask,
                })
            }
        }
    }

    /// Whether `text` is an IP address inside this network. Anything else (a hostname, an
    /// address of the other family) does not match.
    pub(crate) fn contains(&self, text: &str) -> bool {
        let Ok(address) = text.parse::<IpAddr>() else {
            return false;
        };
        match (self, address.to_canonical()) {
            (Cidr::V4 { network, mask }, IpAddr::V4(v4)) => u32::from(v4) & mask == *network,
            (Cidr::V6 { network, mask }, IpAddr::V6(v6)) => u128::from(v6) & mask == *network,
            _ => false,
        }
    }
}

fn width_error(family: &str, width: u32, prefix: u32) -> String {
    format!(
        "an {family} prefix length must be below {width}, not {prefix}; to match one address, give the address itself as an exact value"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        match Cidr::parse(text) {
            Ok(cidr) => cidr,
            Err(reason) => panic!("{text} refused: {reason}"),
        }
    }

    #[test]
    fn an_ipv4_block_holds_its_addresses_only() {
        let block = cidr("10.0.0.0/24");
        assert!(block.contains("10.0.0.0"));
        assert!(block.contains("10.0.0.255"));
        assert!(!block.contains("10.0.1.0"));
        assert!(!block.contains("9.255.255.255"));
    }

    #[test]
    fn an_ipv6_block_holds_its_addresses_only() {
        let block = cidr("2001:db8::/32");
        assert!(block.contains("2001:db8::1"));
        assert!(block.contains("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!block.contains("2001:db9::1"));
        assert!(!block.contains("10.0.0.1"));
    }

    #[test]
    fn host_bits_in_the_network_address_are_ignored() {
        assert_eq!(cidr("10.0.0.7/24"), cidr("10.0.0.0/24"));
    }

    #[test]
    fn a_zero_prefix_holds_every_address_of_its_family() {
        assert!(cidr("0.0.0.0/0").contains("203.0.113.9"));
        assert!(!cidr("0.0.0.0/0").contains("::1"));
        assert!(cidr("::/0").contains("::1"));
    }

    #[test]
    fn an_ipv4_mapped_ipv6_address_is_read_as_ipv4() {
        assert!(cidr("10.0.0.0/8").contains("::ffff:10.1.2.3"));
    }

    #[test]
    fn text_that_is_not_an_address_never_matches() {
        let block = cidr("10.0.0.0/8");
        assert!(!block.contains("10.0.0.0/8"));
        assert!(!block.contains("example.com"));
        assert!(!block.contains(""));
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for text in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0/8",
            "10.0.0.0/x",
            "10.0.0.0/-1",
            "10.0.0.0/32",
            "::/128",
            "a/b/c",
        ] {
            assert!(Cidr::parse(text).is_err(), "{text} was accepted");
        }
        assert!(Cidr::parse("10.0.0.0/31").is_ok());
        assert!(Cidr::parse("::/127").is_ok());
    }
}
