//! Room names the crate uses to carry state through the adapter.
//!
//! Rooms are the one thing every adapter lists cluster-wide (`rooms()`), so presence and
//! subscriptions encode what other nodes must know in room names: a socket's user and node,
//! an entry's viewers, a subscription's spec and permission group. A node that dies takes its
//! rooms with it.

use serde_json::json;

/// Room of the sockets subscribed to app-wide presence events.
pub const PRESENCE_ROOM: &str = "presence";

const TAB: &str = "presence~";
const VIEWER: &str = "viewer~";
const ENTRY: &str = "presence-entry~";
const SCOPE: &str = "presence-room~";

/// Whether `room` is one of this crate's own rooms.
pub(crate) fn is_internal(room: &str) -> bool {
    room == PRESENCE_ROOM
        || [TAB, VIEWER, ENTRY, SCOPE, "sub~"]
            .iter()
            .any(|p| room.starts_with(p))
}

/// Room holding the sockets of `user` on `node`: `presence~["node","user","username"]`.
pub(crate) fn tab_room(node: &str, user: &str, username: Option<&str>) -> String {
    format!("{TAB}{}", json!([node, user, username]))
}

/// A parsed [`tab_room`]: node, user id, username.
pub(crate) fn parse_tab_room(room: &str) -> Option<(String, String, Option<String>)> {
    serde_json::from_str(room.strip_prefix(TAB)?).ok()
}

/// Room of the sockets of `user` viewing `entry`.
pub(crate) fn viewer_room(entry: &str, user: &str) -> String {
    format!("{VIEWER}{}", json!([entry, user]))
}

/// A parsed [`viewer_room`]: entry, user id.
pub(crate) fn parse_viewer_room(room: &str) -> Option<(String, String)> {
    serde_json::from_str(room.strip_prefix(VIEWER)?).ok()
}

/// Room of the sockets that hear `presence:viewing` for `entry`.
pub fn entry_room(entry: &str) -> String {
    format!("{ENTRY}{entry}")
}

/// Room of the sockets subscribed to presence events of the members of room `room`.
pub fn scope_room(room: &str) -> String {
    format!("{SCOPE}{room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_round_trip_with_any_characters() {
        let room = tab_room("n~1", "u\"~]", Some("Ada"));
        assert_eq!(
            parse_tab_room(&room),
            Some(("n~1".into(), "u\"~]".into(), Some("Ada".into())))
        );
        let room = viewer_room("article:3", "7");
        assert_eq!(
            parse_viewer_room(&room),
            Some(("article:3".into(), "7".into()))
        );
        assert_eq!(parse_tab_room("user-7"), None);
        assert_eq!(parse_viewer_room("viewer~not json"), None);
    }
}
