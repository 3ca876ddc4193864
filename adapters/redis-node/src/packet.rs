//! Between socketioxide's packets and values and the Node adapter's `{type, data, nsp}` objects.

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{Value as Json, json};
use socketioxide_core::{
    Value,
    packet::{Packet, PacketData},
    parser::Parse,
};

use crate::wire::{self, Payload};

/// socket.io-parser's `EVENT`: Node's encoder turns it into `BINARY_EVENT` when it holds buffers.
const EVENT: u8 = 2;

/// How the namespace's parser keeps values: JSON text (common parser) or MessagePack bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueForm {
    Text,
    Binary,
}

impl ValueForm {
    pub(crate) fn of(parser: impl Parse) -> Self {
        match parser.encode_value(&(), None) {
            Ok(Value::Bytes(_)) => Self::Binary,
            _ => Self::Text,
        }
    }

    /// A socketioxide value holding the JSON array `data` and its binaries.
    pub(crate) fn value(self, data: &Json, bins: Vec<Bytes>) -> Value {
        match self {
            Self::Text => {
                let bins = (!bins.is_empty()).then(|| VecDeque::from(bins));
                Value::Str(data.to_string().into(), bins)
            }
            Self::Binary => Value::Bytes(wire::encode(data, &bins).into()),
        }
    }
}

/// The JSON array of a socketioxide value, with its binaries.
pub(crate) fn value_json(value: &Value) -> Option<Payload> {
    match value {
        Value::Str(text, bins) => Some(Payload {
            json: serde_json::from_str(text).ok()?,
            bins: bins.iter().flatten().cloned().collect(),
        }),
        Value::Bytes(bytes) => wire::decode(bytes).ok(),
    }
}

/// The Node adapter's packet object for an event packet; `None` for any other packet.
pub(crate) fn to_node(packet: &Packet) -> Option<Payload> {
    let (PacketData::Event(value, _) | PacketData::BinaryEvent(value, _)) = &packet.inner else {
        return None;
    };
    let Payload { json: data, bins } = value_json(value)?;
    Some(Payload {
        json: json!({ "type": EVENT, "data": data, "nsp": &*packet.ns }),
        bins,
    })
}

/// The event packet delivering Node's `data` (`[event, ...args]`) in namespace `ns`.
pub(crate) fn from_node(form: ValueForm, ns: &str, data: &Json, bins: Vec<Bytes>) -> Packet {
    Packet::event(ns.to_owned(), form.value(data, bins))
}

/// The first argument of a client's acknowledgement, which is what Node forwards.
pub(crate) fn first_ack_arg(value: &Value) -> Payload {
    match value_json(value) {
        Some(Payload {
            json: Json::Array(mut args),
            bins,
        }) if !args.is_empty() => Payload {
            json: args.swap_remove(0),
            bins,
        },
        _ => Payload::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::placeholder;

    #[test]
    fn event_packets_become_node_packets_with_buffers() {
        let value = ValueForm::Text.value(
            &json!(["file", placeholder(0)]),
            vec![Bytes::from_static(b"\x01\x02")],
        );
        let packet = Packet::event("/chat", value);
        let node = to_node(&packet).unwrap();
        assert_eq!(
            node.json,
            json!({"type": 2, "data": ["file", placeholder(0)], "nsp": "/chat"})
        );
        assert_eq!(node.bins, vec![Bytes::from_static(b"\x01\x02")]);
        assert!(matches!(
            from_node(ValueForm::Text, "/chat", &node.json["data"], node.bins).inner,
            PacketData::BinaryEvent(..)
        ));
    }

    #[test]
    fn acks_forward_their_first_argument() {
        let value = ValueForm::Text.value(&json!(["ok", 2]), vec![]);
        assert_eq!(first_ack_arg(&value).json, json!("ok"));
        assert_eq!(
            first_ack_arg(&ValueForm::Text.value(&json!([]), vec![])).json,
            Json::Null
        );
    }
}
