//! The payloads of the Admin UI protocol, as `@socket.io/admin-ui` 0.5's server sends them.

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use iostack_core::{ConnectionInfo, extract::SocketRef, socketioxide::TransportType};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The features the UI may offer: the Socket.IO v4 set, in the official server's development mode
/// (`ALL_EVENTS`, which is what makes the UI show its sockets, rooms, clients and events pages;
/// the events page shows connections, disconnections and room changes).
pub(crate) fn features(readonly: bool) -> Vec<&'static str> {
    let mut features = if readonly {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    features.push("ALL_EVENTS");
    features
}

/// One socket as the UI lists it (`serialize` in the official server).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SocketView {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) transport: &'static str,
    pub(crate) nsp: String,
    pub(crate) data: Value,
    pub(crate) handshake: Value,
    pub(crate) rooms: Vec<String>,
}

pub(crate) fn transport_name(transport: TransportType) -> &'static str {
    match transport {
        TransportType::Polling => "polling",
        TransportType::Websocket => "websocket",
    }
}

/// A socket of this node, with what the registry knows about it.
pub(crate) fn local_socket(socket: &SocketRef, info: Option<&ConnectionInfo>) -> SocketView {
    let id = socket.id.to_string();
    let parts = socket.req_parts();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != "cookie" && *name != "authorization")
        .filter_map(|(name, value)| {
            Some((name.to_string(), Value::String(value.to_str().ok()?.into())))
        })
        .collect();
    let query: BTreeMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    Some((k.to_owned(), v.to_owned())).filter(|(k, _)| !k.is_empty())
                })
                .collect()
        })
        .unwrap_or_default();
    let forwarded = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned);
    let address = forwarded.or_else(|| info.and_then(|i| i.peer).map(|p| p.ip().to_string()));
    let issued = info
        .map(|i| millis(i.connected_at))
        .unwrap_or_else(|| millis(SystemTime::now()));
    let secure = parts.uri.scheme_str() == Some("https")
        || parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v == "https");
    let origin = parts.headers.get("origin").and_then(|v| v.to_str().ok());
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok());
    let xdomain = origin.is_some_and(|o| !host.is_some_and(|h| o.ends_with(&format!("//{h}"))));
    let mut rooms: Vec<String> = socket.rooms().into_iter().map(|r| r.to_string()).collect();
    rooms.sort();
    SocketView {
        client_id: id.chars().take(12).collect(),
        id,
        transport: transport_name(socket.transport_type()),
        nsp: socket.ns().to_owned(),
        data: info
            .and_then(|i| i.identity.as_ref())
            .map(|identity| json!({ "user": identity }))
            .unwrap_or_else(|| json!({})),
        handshake: json!({
            "address": address,
            "headers": headers,
            "query": query,
            "issued": issued,
            "secure": secure,
            "time": httpdate(issued),
            "url": parts.uri.to_string(),
            "xdomain": xdomain,
        }),
        rooms,
    }
}

/// A socket of another node: the adapter tells its id and namespace, and its rooms on request.
pub(crate) fn remote_socket(id: String, nsp: String, rooms: Vec<String>) -> SocketView {
    SocketView {
        client_id: id.chars().take(12).collect(),
        id,
        transport: "websocket",
        nsp,
        data: json!({}),
        handshake: json!({ "headers": {}, "query": {}, "issued": 0, "time": "", "url": "", "secure": false, "xdomain": false }),
        rooms,
    }
}

pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The time of day as an ISO-8601 string (what the UI parses with `new Date(...)`).
pub(crate) fn iso_now() -> String {
    httpdate(millis(SystemTime::now()))
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn httpdate(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_known_instants() {
        assert_eq!(httpdate(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(httpdate(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn readonly_offers_no_actions() {
        assert_eq!(features(true), ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
        assert!(features(false).contains(&"MDISCONNECT"));
    }
}
