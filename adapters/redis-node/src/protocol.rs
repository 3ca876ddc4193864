//! The messages of `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter` 5.x.
//!
//! - broadcasts: MessagePack `[uid, packet, opts]` on `<key>#<ns>#`, or `<key>#<ns>#<room>#` when
//!   exactly one room is targeted;
//! - requests: JSON objects `{uid, requestId, type, ...}` on `<key>-request#<ns>#`, except
//!   `BROADCAST` (with acks), which is MessagePack because its packet may hold binaries;
//! - responses: JSON on `<key>-response#<ns>#` (or `<key>-response#<ns>#<uid>#`), except
//!   `BROADCAST_ACK`, which is MessagePack.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide_core::adapter::{BroadcastFlags, BroadcastOptions, Room};

use crate::wire::{self, DecodeError, Payload};

/// The `type` of a request between nodes, as numbered by the Node adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RequestType {
    Sockets = 0,
    AllRooms = 1,
    RemoteJoin = 2,
    RemoteLeave = 3,
    RemoteDisconnect = 4,
    RemoteFetch = 5,
    ServerSideEmit = 6,
    Broadcast = 7,
    BroadcastClientCount = 8,
    BroadcastAck = 9,
}

impl RequestType {
    fn from_u64(n: u64) -> Option<Self> {
        Some(match n {
            0 => Self::Sockets,
            1 => Self::AllRooms,
            2 => Self::RemoteJoin,
            3 => Self::RemoteLeave,
            4 => Self::RemoteDisconnect,
            5 => Self::RemoteFetch,
            6 => Self::ServerSideEmit,
            7 => Self::Broadcast,
            8 => Self::BroadcastClientCount,
            9 => Self::BroadcastAck,
            _ => return None,
        })
    }
}

/// The channels of one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    /// `<key>#<ns>#`: broadcasts, followed by `<room>#` for single-room ones.
    pub(crate) broadcast: String,
    pub(crate) request: String,
    pub(crate) response: String,
    /// `<key>-response#<ns>#<uid>#`: responses meant for this node only.
    pub(crate) own_response: String,
}

impl Channels {
    pub(crate) fn new(key: &str, ns: &str, uid: &str) -> Self {
        let response = format!("{key}-response#{ns}#");
        Self {
            broadcast: format!("{key}#{ns}#"),
            request: format!("{key}-request#{ns}#"),
            own_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The channel a broadcast to `rooms` is published on.
    pub(crate) fn broadcast_to(&self, rooms: &[Room]) -> String {
        match rooms {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

/// Why a message on a channel was skipped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MessageError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("unexpected shape: {0}")]
    Shape(String),
}

fn shape(e: impl std::fmt::Display) -> MessageError {
    MessageError::Shape(e.to_string())
}

/// A room name: Node allows numbers too; they travel as numbers and name the room by their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomName(pub(crate) String);

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => RoomName(s),
            other => RoomName(other.to_string()),
        })
    }
}

/// `flags` of a broadcast: only those that change delivery here are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Flags {
    #[serde(default)]
    pub(crate) volatile: Option<bool>,
    /// Acknowledgement timeout in milliseconds (`BROADCAST` requests).
    #[serde(default)]
    pub(crate) timeout: Option<f64>,
}

/// `opts` of a broadcast or of a socket-set request.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Opts {
    #[serde(default)]
    pub(crate) rooms: Vec<RoomName>,
    #[serde(default)]
    pub(crate) except: Vec<RoomName>,
    #[serde(default)]
    pub(crate) flags: Option<Flags>,
}

impl Opts {
    /// The socketioxide options selecting the same sockets on this node.
    pub(crate) fn to_broadcast_options(&self) -> BroadcastOptions {
        let mut opts = BroadcastOptions::default();
        // Without rooms, every socket of the namespace: socketioxide calls that a broadcast.
        opts.add_flag(BroadcastFlags::Broadcast);
        if self.flags.as_ref().and_then(|f| f.volatile) == Some(true) {
            opts.add_flag(BroadcastFlags::Volatile);
        }
        opts.rooms = self.rooms.iter().map(|r| Room::from(r.0.clone())).collect();
        opts.except = self
            .except
            .iter()
            .map(|r| Room::from(r.0.clone()))
            .collect();
        opts
    }

    pub(crate) fn rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms.iter().chain(&self.except).map(|r| r.0.as_str())
    }
}

/// A socket.io packet as the Node adapter carries it: `{type, data, nsp}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodePacket {
    #[serde(default)]
    pub(crate) data: Value,
    #[serde(default)]
    pub(crate) nsp: Option<String>,
}

/// One broadcast read from a broadcast channel.
#[derive(Debug, Clone)]
pub(crate) struct BroadcastMessage {
    pub(crate) uid: String,
    pub(crate) packet: NodePacket,
    pub(crate) opts: Opts,
    pub(crate) bins: Vec<Bytes>,
}

/// Reads `[uid, packet, opts]`.
pub(crate) fn decode_broadcast(buf: &[u8]) -> Result<BroadcastMessage, MessageError> {
    let Payload { json, bins } = wire::decode(buf)?;
    let Value::Array(mut items) = json else {
        return Err(shape("a broadcast is not an array"));
    };
    if items.len() < 3 {
        return Err(shape("a broadcast has fewer than 3 elements"));
    }
    let opts = items.pop().unwrap_or_default();
    let packet = items.pop().unwrap_or_default();
    let uid = match items.pop() {
        Some(Value::String(uid)) => uid,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let opts = if opts.is_null() {
        Opts::default()
    } else {
        serde_json::from_value(opts).map_err(shape)?
    };
    Ok(BroadcastMessage {
        uid,
        packet: serde_json::from_value(packet).map_err(shape)?,
        opts,
        bins,
    })
}

/// A request or a response, with the fields any type uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub(crate) uid: Option<String>,
    #[serde(rename = "requestId", default)]
    pub(crate) request_id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<u64>,
    #[serde(default)]
    pub(crate) opts: Option<Opts>,
    #[serde(default)]
    pub(crate) rooms: Option<Vec<RoomName>>,
    #[serde(default)]
    pub(crate) room: Option<RoomName>,
    #[serde(default)]
    pub(crate) sid: Option<String>,
    #[serde(default)]
    pub(crate) data: Option<Value>,
    #[serde(default)]
    pub(crate) packet: Option<Value>,
    #[serde(default)]
    pub(crate) sockets: Option<Vec<Value>>,
    #[serde(rename = "clientCount", default)]
    pub(crate) client_count: Option<u64>,
}

impl Message {
    pub(crate) fn kind(&self) -> Option<RequestType> {
        self.kind.and_then(RequestType::from_u64)
    }
}

/// A request or response and the binaries of its MessagePack form.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub(crate) message: Message,
    pub(crate) bins: Vec<Bytes>,
}

/// Reads a request or response (JSON or MessagePack).
pub(crate) fn decode_message(buf: &[u8]) -> Result<Decoded, MessageError> {
    let Payload { json, bins } = wire::decode_any(buf)?;
    if !json.is_object() {
        return Err(shape("a request is not an object"));
    }
    Ok(Decoded {
        message: serde_json::from_value(json).map_err(shape)?,
        bins,
    })
}

/// `{rooms, except}` of outgoing socket-set requests.
pub(crate) fn opts_json(rooms: &[Cow<'_, str>], except: &[Cow<'_, str>]) -> Value {
    json!({ "rooms": rooms, "except": except })
}

/// A JSON request or response, ready to publish.
pub(crate) fn json_bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_emitters_broadcast() {
        // notepack.encode(["emitter", {type: 2, data: ["hi", 1], nsp: "/"}, {rooms: ["r"], flags: {}, except: []}])
        let msg = wire::encode(
            &json!(["emitter", {"type": 2, "data": ["hi", 1], "nsp": "/"}, {"rooms": ["r"], "flags": {}, "except": []}]),
            &[],
        );
        let b = decode_broadcast(&msg).unwrap();
        assert_eq!(b.uid, "emitter");
        assert_eq!(b.packet.data, json!(["hi", 1]));
        assert_eq!(b.opts.rooms, vec![RoomName("r".into())]);
    }

    #[test]
    fn numeric_rooms_name_rooms_by_their_text() {
        let m = decode_message(br#"{"type":2,"opts":{"rooms":[42],"except":[]},"rooms":["a"]}"#)
            .unwrap()
            .message;
        assert_eq!(m.kind(), Some(RequestType::RemoteJoin));
        assert_eq!(m.opts.unwrap().rooms, vec![RoomName("42".into())]);
    }

    #[test]
    fn single_room_broadcasts_use_the_room_channel() {
        let ch = Channels::new("socket.io", "/chat", "abc");
        assert_eq!(ch.broadcast_to(&["r1".into()]), "socket.io#/chat#r1#");
        assert_eq!(
            ch.broadcast_to(&["a".into(), "b".into()]),
            "socket.io#/chat#"
        );
        assert_eq!(ch.own_response, "socket.io-response#/chat#abc#");
    }

    proptest! {
        #[test]
        fn message_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_broadcast(&bytes);
            let _ = decode_message(&bytes);
        }

        #[test]
        fn json_shaped_garbage_is_rejected_or_read(
            kind in any::<i64>(), rooms in prop::collection::vec(".{0,6}", 0..4), junk in ".{0,20}",
        ) {
            let text = json!({"type": kind, "opts": {"rooms": rooms, "except": junk}, "rooms": junk}).to_string();
            let _ = decode_message(text.as_bytes());
            let bytes = wire::encode(&json!([junk, {"type": kind, "data": rooms}, {"rooms": junk}]), &[]);
            let _ = decode_broadcast(&bytes);
        }
    }
}
