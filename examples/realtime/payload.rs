//! [`Payload`]: any argument a client sends, binary attachments included, forwarded unchanged.

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};
use serde_json::Number;

/// One Socket.IO argument as the client sent it: JSON with binary attachments (`Buffer`,
/// `ArrayBuffer`) kept as bytes, so re-emitting it sends the client's data back unchanged
/// (`serde_json::Value` would refuse the attachments).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Payload {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Binary(Vec<u8>),
    Array(Vec<Payload>),
    Object(Vec<(String, Payload)>),
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Number(n) => n.serialize(s),
            Self::String(v) => s.serialize_str(v),
            // The parser turns bytes into a binary attachment.
            Self::Binary(v) => s.serialize_bytes(v),
            // A sequence, not a tuple: socketioxide sends a tuple as several arguments.
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value or binary attachment")
    }

    fn visit_unit<E>(self) -> Result<Payload, E> {
        Ok(Payload::Null)
    }

    fn visit_none<E>(self) -> Result<Payload, E> {
        Ok(Payload::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Payload, D::Error> {
        Payload::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Payload, E> {
        Ok(Payload::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Payload, E> {
        Ok(Payload::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Payload, E> {
        Ok(Payload::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Payload, E> {
        Ok(Number::from_f64(v).map_or(Payload::Null, Payload::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Payload, E> {
        Ok(Payload::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Payload, E> {
        Ok(Payload::String(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Payload, E> {
        Ok(Payload::Binary(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Payload, E> {
        Ok(Payload::Binary(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Payload, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Payload::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = map.next_entry()? {
            entries.push((k, v));
        }
        Ok(Payload::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_unchanged() {
        let text = r#"{"a":[1,-2,3.5,"x",null,true],"b":{"c":18446744073709551615}}"#;
        let payload: Payload = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&payload).unwrap(), text);
    }
}
