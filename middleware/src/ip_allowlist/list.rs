//! [`IpList`]: single addresses and CIDR ranges, IPv4 and IPv6, and client-address resolution
//! behind trusted proxies.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// An entry that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid IP allowlist entry `{entry}`: expected an IP address or a CIDR range like 10.0.0.0/8"
)]
pub struct InvalidEntry {
    /// The offending entry, as given.
    pub entry: String,
}

/// A set of addresses and ranges.
///
/// ```
/// use iostack_middleware::ip_allowlist::IpList;
///
/// let list = IpList::parse(["127.0.0.1", "10.0.0.0/8", "::1"]).unwrap();
/// assert!(list.contains("10.1.2.3".parse().unwrap()));
/// assert!(list.contains("::ffff:127.0.0.1".parse().unwrap())); // IPv4-mapped IPv6
/// assert!(IpList::parse(["10.0.0.0/33"]).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList {
    nets: Vec<IpNet>,
}

impl IpList {
    /// Parses every entry; the first invalid one is the error.
    pub fn parse<I, E>(entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .map(|e| parse_entry(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether `ip` is in the list; an IPv4-mapped IPv6 address also matches its IPv4 entries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = canonical(ip);
        self.nets
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Whether the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client address of a request whose direct peer is `peer`: when the peer is one of these
    /// trusted proxies, the rightmost address of `X-Forwarded-For` (or `Forwarded: for=`) that is not
    /// itself a trusted proxy; otherwise the peer. Forwarding headers from untrusted peers are ignored,
    /// so a client cannot spoof its address.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut chain = forwarded_chain(headers);
        // Rightmost first: the closest hop was added last.
        chain.reverse();
        chain
            .into_iter()
            .find(|ip| !self.contains(*ip))
            .unwrap_or(peer)
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, InvalidEntry> {
    let trimmed = entry.trim();
    trimmed
        .parse::<IpNet>()
        .or_else(|_| trimmed.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| InvalidEntry {
            entry: entry.to_owned(),
        })
}

/// IPv4-mapped IPv6 addresses as IPv4; everything else unchanged.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Addresses of `X-Forwarded-For`, else of `Forwarded` `for=` pairs, left to right; unparsable
/// elements end the chain (nothing left of them can be trusted).
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let items: Vec<String> = if !xff.is_empty() {
        xff.into_iter().map(|s| s.trim().to_owned()).collect()
    } else {
        headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    let mut chain = Vec::new();
    for item in items.iter().rev() {
        match parse_forwarded_ip(item) {
            Some(ip) => chain.push(ip),
            None => break,
        }
    }
    chain.reverse();
    chain
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_forwarded_ip(item: &str) -> Option<IpAddr> {
    if let Ok(ip) = item.parse() {
        return Some(ip);
    }
    if let Some(rest) = item.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    item.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn invalid_entries_are_named() {
        for bad in ["10.0.0.0/33", "localhost", "1.2.3", "::1/129", ""] {
            assert_eq!(IpList::parse([bad]).unwrap_err().entry, bad);
        }
    }

    #[test]
    fn forwarded_headers_count_only_behind_trusted_proxies() {
        let proxies = IpList::parse(["10.0.0.1", "10.0.0.2"]).unwrap();
        let spoofed = headers(&[("x-forwarded-for", "127.0.0.1")]);
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            proxies.client_ip(client, &spoofed),
            client,
            "untrusted peer: header ignored"
        );

        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let chain = headers(&[("x-forwarded-for", "127.0.0.1, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            proxies.client_ip(proxy, &chain),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"",
        )]);
        assert_eq!(
            proxies.client_ip(proxy, &forwarded),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(proxies.client_ip(proxy, &headers(&[])), proxy);
        let garbage = headers(&[("x-forwarded-for", "1.1.1.1, garbage, 10.0.0.2")]);
        assert_eq!(
            proxies.client_ip(proxy, &garbage),
            proxy,
            "nothing left of garbage is trusted"
        );
    }

    /// A reference: compare the first `prefix` bits.
    fn in_range(ip: &[u8], net: &[u8], prefix: u8) -> bool {
        let full = (prefix / 8) as usize;
        if ip[..full] != net[..full] {
            return false;
        }
        let rest = prefix % 8;
        rest == 0 || (ip[full] ^ net[full]) & (0xffu8 << (8 - rest)) == 0
    }

    proptest! {
        #[test]
        fn v4_matching_agrees_with_reference(ip: u32, net: u32, prefix in 0u8..=32) {
            let (ip, net) = (Ipv4Addr::from(ip), Ipv4Addr::from(net));
            let list = IpList::parse([format!("{net}/{prefix}")]).unwrap();
            let expected = in_range(&ip.octets(), &net.octets(), prefix);
            prop_assert_eq!(list.contains(IpAddr::V4(ip)), expected);
            prop_assert_eq!(list.contains(IpAddr::V6(ip.to_ipv6_mapped())), expected, "mapped");
        }

        #[test]
        fn v6_matching_agrees_with_reference(ip: u128, net: u128, prefix in 0u8..=128) {
            let (ip, net) = (Ipv6Addr::from(ip), Ipv6Addr::from(net));
            let list = IpList::parse([format!("{net}/{prefix}")]).unwrap();
            prop_assert_eq!(list.contains(IpAddr::V6(ip)), in_range(&ip.octets(), &net.octets(), prefix));
        }
    }
}
