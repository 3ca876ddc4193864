//! Property tests over everything a client controls before it is authenticated: handshake auth
//! payloads and headers, forwarded-address headers, allowlist entries. Each input gets an answer
//! (a value or a clear error), never a panic.
//!
//! `PROPTEST_CASES` sets the cases per property (256 by default); `scripts/fuzz.sh` runs a million.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};
use iostack_middleware::{auth::extract_token, ip_allowlist::IpList};
use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("(token|[a-z]{1,8})", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Header values as a client may send them (any visible ASCII, spaces, tabs).
fn header_value() -> impl Strategy<Value = HeaderValue> {
    "[ -~\t]{0,80}".prop_map(|s| HeaderValue::from_str(&s).expect("visible ASCII"))
}

/// `X-Forwarded-For` lists mixing addresses (v4, v6, with ports) and garbage.
fn forwarded_list() -> impl Strategy<Value = HeaderValue> {
    let item = prop_oneof![
        any::<IpAddr>().prop_map(|ip| ip.to_string()),
        (any::<std::net::Ipv4Addr>(), any::<u16>()).prop_map(|(ip, port)| format!("{ip}:{port}")),
        "[ -~]{0,12}",
    ];
    prop::collection::vec(item, 0..5)
        .prop_map(|items| HeaderValue::from_str(&items.join(", ")).expect("visible ASCII"))
}

fn headers(pairs: Vec<(&'static str, HeaderValue)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_static(name), value);
    }
    map
}

proptest! {
    #[test]
    fn handshake_auth_and_headers_never_panic_the_token_extraction(
        auth in json(),
        bearer in header_value(),
    ) {
        let headers = headers(vec![("authorization", bearer)]);
        if let Some(token) = extract_token(&auth, &headers) {
            prop_assert!(!token.is_empty());
            prop_assert_eq!(token.trim(), token.as_str());
        }
    }

    #[test]
    fn forwarded_headers_resolve_to_the_peer_or_an_address_they_name(
        peer in any::<IpAddr>(),
        xff in forwarded_list(),
        forwarded in header_value(),
        trust_peer in any::<bool>(),
    ) {
        let proxies = if trust_peer {
            IpList::parse([peer.to_string()]).unwrap()
        } else {
            IpList::default()
        };
        let headers = headers(vec![("x-forwarded-for", xff.clone()), ("forwarded", forwarded.clone())]);
        let client = proxies.client_ip(peer, &headers);
        if !trust_peer {
            prop_assert_eq!(client, peer, "untrusted peers cannot name another address");
        } else if client != peer {
            let named = format!("{} {}", xff.to_str().unwrap(), forwarded.to_str().unwrap());
            let ip = client.to_string();
            let bare = ip.trim_start_matches("::ffff:");
            prop_assert!(named.contains(&ip) || named.contains(bare) || named.contains('['), "{} not in {}", client, named);
        }
    }

    #[test]
    fn allowlist_entries_parse_or_name_the_bad_entry(entries in prop::collection::vec(".{0,24}", 1..5)) {
        match IpList::parse(&entries) {
            Ok(list) => prop_assert!(!list.is_empty()),
            Err(e) => {
                prop_assert!(entries.contains(&e.entry));
                let message = e.to_string();
                prop_assert!(message.starts_with("invalid IP allowlist entry"));
            }
        }
    }

    #[test]
    fn cidr_shaped_strings_parse_or_fail_cleanly(
        a in any::<u8>(), b in any::<u8>(), c in any::<u8>(), d in any::<u8>(), prefix in 0u16..200,
    ) {
        let entry = format!("{a}.{b}.{c}.{d}/{prefix}");
        let parsed = IpList::parse([&entry]);
        prop_assert_eq!(parsed.is_ok(), prefix <= 32, "{}", entry);
    }
}
