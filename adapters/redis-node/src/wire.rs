//! MessagePack as `notepack.io` writes it, converted to and from JSON in socket.io's own form:
//! every binary value becomes a `{"_placeholder": true, "num": i}` object and its bytes go to a
//! side list, exactly what socketioxide's common parser keeps in a `Value::Str`.
//!
//! The decoder reads bytes published by any process on the shared Redis: it checks every length
//! against the bytes left, bounds the nesting depth and never panics.

use bytes::Bytes;
use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and maps the decoder accepts.
pub(crate) const MAX_DEPTH: usize = 128;

/// A decoded payload: JSON with binary placeholders, and the binaries they point to.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Payload {
    pub(crate) json: Value,
    pub(crate) bins: Vec<Bytes>,
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("truncated MessagePack value")]
    Truncated,
    #[error("MessagePack nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("reserved MessagePack marker 0xc1")]
    Reserved,
    #[error("{0} bytes after the MessagePack value")]
    Trailing(usize),
    #[error("MessagePack string is not UTF-8")]
    Utf8,
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// Reads a request or response: JSON when it starts with `{` (as the Node adapter decides),
/// MessagePack otherwise.
pub(crate) fn decode_any(buf: &[u8]) -> Result<Payload, DecodeError> {
    if buf.first() == Some(&b'{') {
        let json = serde_json::from_slice(buf).map_err(|e| DecodeError::Json(e.to_string()))?;
        Ok(Payload {
            json,
            bins: Vec::new(),
        })
    } else {
        decode(buf)
    }
}

/// Reads one MessagePack value that fills `buf`.
pub(crate) fn decode(buf: &[u8]) -> Result<Payload, DecodeError> {
    let mut reader = Reader {
        buf,
        pos: 0,
        bins: Vec::new(),
    };
    let json = reader.value(0)?;
    let left = buf.len() - reader.pos;
    if left > 0 {
        return Err(DecodeError::Trailing(left));
    }
    Ok(Payload {
        json,
        bins: reader.bins,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    bins: Vec<Bytes>,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => usize::from(self.array::<1>()?[0]),
            2 => usize::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    /// Every element needs at least one byte: a length past the end is a lie, not an allocation.
    fn check_count(&self, count: usize) -> Result<(), DecodeError> {
        if count > self.buf.len() - self.pos {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }

    fn str(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)?;
        Ok(Value::String(s.to_owned()))
    }

    fn bin(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = Bytes::copy_from_slice(self.take(len)?);
        self.bins.push(bytes);
        Ok(placeholder(self.bins.len() - 1))
    }

    /// Extensions (notepack's `undefined`, dates) carry nothing a socket.io payload can use: `null`.
    fn ext(&mut self, len: usize) -> Result<Value, DecodeError> {
        self.take(1 + len)?;
        Ok(Value::Null)
    }

    fn seq(&mut self, count: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(count)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, count: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(count.saturating_mul(2))?;
        let mut map = Map::new();
        for _ in 0..count {
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let value = self.value(depth + 1)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let marker = self.array::<1>()?[0];
        Ok(match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => return self.map(usize::from(marker & 0x0f), depth),
            0x90..=0x9f => return self.seq(usize::from(marker & 0x0f), depth),
            0xa0..=0xbf => return self.str(usize::from(marker & 0x1f)),
            0xc0 => Value::Null,
            0xc1 => return Err(DecodeError::Reserved),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = self.len(1)?;
                return self.bin(len);
            }
            0xc5 => {
                let len = self.len(2)?;
                return self.bin(len);
            }
            0xc6 => {
                let len = self.len(4)?;
                return self.bin(len);
            }
            0xc7 => {
                let len = self.len(1)?;
                return self.ext(len);
            }
            0xc8 => {
                let len = self.len(2)?;
                return self.ext(len);
            }
            0xc9 => {
                let len = self.len(4)?;
                return self.ext(len);
            }
            0xca => float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.array::<1>()?[0]),
            0xcd => Value::from(u16::from_be_bytes(self.array()?)),
            0xce => Value::from(u32::from_be_bytes(self.array()?)),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => return self.ext(1),
            0xd5 => return self.ext(2),
            0xd6 => return self.ext(4),
            0xd7 => return self.ext(8),
            0xd8 => return self.ext(16),
            0xd9 => {
                let len = self.len(1)?;
                return self.str(len);
            }
            0xda => {
                let len = self.len(2)?;
                return self.str(len);
            }
            0xdb => {
                let len = self.len(4)?;
                return self.str(len);
            }
            0xdc => {
                let len = self.len(2)?;
                return self.seq(len, depth);
            }
            0xdd => {
                let len = self.len(4)?;
                return self.seq(len, depth);
            }
            0xde => {
                let len = self.len(2)?;
                return self.map(len, depth);
            }
            0xdf => {
                let len = self.len(4)?;
                return self.map(len, depth);
            }
            0xe0..=0xff => Value::from(marker as i8),
        })
    }
}

/// JSON has no NaN or infinity: those become `null`, as `JSON.stringify` does.
fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// socket.io's binary placeholder object.
pub(crate) fn placeholder(num: usize) -> Value {
    let mut map = Map::new();
    map.insert("_placeholder".into(), Value::Bool(true));
    map.insert("num".into(), Value::from(num));
    Value::Object(map)
}

fn placeholder_index(map: &Map<String, Value>) -> Option<usize> {
    if map.len() == 2 && map.get("_placeholder") == Some(&Value::Bool(true)) {
        map.get("num")?.as_u64().map(|n| n as usize)
    } else {
        None
    }
}

/// Writes `json` as MessagePack, each placeholder replaced by the binary it points to.
pub(crate) fn encode(json: &Value, bins: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, json, bins);
    out
}

fn write(out: &mut Vec<u8>, json: &Value, bins: &[Bytes]) {
    // Writing to a Vec cannot fail: the results of rmp's writers carry nothing here.
    match json {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                let _ = rmp::encode::write_uint(out, u);
            } else if let Some(i) = n.as_i64() {
                let _ = rmp::encode::write_sint(out, i);
            } else {
                let _ = rmp::encode::write_f64(out, n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            for item in items {
                write(out, item, bins);
            }
        }
        Value::Object(map) => {
            if let Some(bin) = placeholder_index(map).and_then(|i| bins.get(i)) {
                let _ = rmp::encode::write_bin(out, bin);
                return;
            }
            let _ = rmp::encode::write_map_len(out, map.len() as u32);
            for (key, value) in map {
                let _ = rmp::encode::write_str(out, key);
                write(out, value, bins);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn binaries_round_trip_through_placeholders() {
        let json =
            json!(["event", {"bin": placeholder(0), "n": -3, "f": 1.5, "s": "é"}, placeholder(1)]);
        let bins = vec![Bytes::from_static(b"\x00\x01"), Bytes::from_static(b"")];
        let bytes = encode(&json, &bins);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.json, json);
        assert_eq!(back.bins, bins);
    }

    #[test]
    fn reads_notepack_undefined_as_null() {
        // notepack writes `undefined` as fixext 1, type 0, data 0.
        assert_eq!(
            decode(&[0x91, 0xd4, 0x00, 0x00]).unwrap().json,
            json!([null])
        );
    }

    #[test]
    fn rejects_lying_lengths_and_deep_nesting() {
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&[0xc6, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(decode(&vec![0x91; 1000]), Err(DecodeError::TooDeep));
        assert_eq!(decode(&[0xc0, 0xc0]), Err(DecodeError::Trailing(1)));
        assert_eq!(decode(&[]), Err(DecodeError::Truncated));
    }

    #[test]
    fn json_requests_start_with_a_brace() {
        let payload = decode_any(br#"{"type":1,"requestId":"x"}"#).unwrap();
        assert_eq!(payload.json, json!({"type": 1, "requestId": "x"}));
        assert!(decode_any(b"{not json").is_err());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(float),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,8}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
            let _ = decode_any(&bytes);
        }

        #[test]
        fn decoder_never_panics_on_corrupted_valid_payloads(
            json in json_value(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = encode(&json, &[]);
            let _ = decode(&bytes[..cut.index(bytes.len() + 1)]);
            let at = flip.index(bytes.len());
            bytes[at] = byte;
            let _ = decode(&bytes);
        }

        #[test]
        fn encoded_json_decodes_to_itself(json in json_value()) {
            let back = decode(&encode(&json, &[])).unwrap();
            prop_assert_eq!(back.json, json);
        }
    }
}
