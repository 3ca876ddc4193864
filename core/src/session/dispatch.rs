//! [`Dispatch`]: each incoming event of one socket goes through the gates, then onto the socket's
//! queue, or is refused.

use std::sync::Arc;

use socketioxide::{
    ParserError,
    extract::Event,
    handler::{FromMessageParts, MessageHandler},
    socket::Socket,
};
use socketioxide_core::Value;

use super::{EventStack, Stacked, queue::Queue};
use crate::{AnyAdapter, EventError, EventRequest, gate::Gates};

/// The size of an event's arguments as received, binary attachments included.
pub(super) fn payload_size(data: &Value) -> usize {
    match data {
        Value::Str(text, binaries) => {
            text.len() + binaries.iter().flatten().map(|b| b.len()).sum::<usize>()
        }
        Value::Bytes(bytes) => bytes.len(),
    }
}

/// The event name at the head of `text`, an event's JSON arguments array, when it is in the shape
/// Socket.IO clients send (`["name",...`, no escape in the name); `None` for any other shape.
///
/// socketioxide parsed the name once already to look for a handler of its own, and a name it can
/// read has no escape; this reads it again without a JSON parser (whose way of stopping after the
/// first element builds an error message on every event).
fn plain_event_name(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("[\"")?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// The name of the event whose arguments are `data`.
fn event_name(
    socket: &Arc<Socket<AnyAdapter>>,
    data: &mut Value,
    ack_id: &Option<i64>,
) -> Result<String, ParserError> {
    if let Value::Str(text, _) = &*data
        && let Some(name) = plain_event_name(text)
    {
        return Ok(name.to_owned());
    }
    Event::from_message_parts(socket, data, ack_id).map(|Event(name)| name)
}

/// socketioxide's message handler of one socket: every event ends on the socket's queue or is
/// answered with why it was refused.
pub(super) struct Dispatch<S, E> {
    pub(super) queue: Arc<Queue<S, E>>,
    pub(super) gates: Gates,
}

impl<S, E> MessageHandler<AnyAdapter, Stacked> for Dispatch<S, E>
where
    S: Send + Sync + 'static,
    E: EventStack,
{
    fn call(&self, socket: Arc<Socket<AnyAdapter>>, mut data: Value, ack_id: Option<i64>) {
        let event = match event_name(&socket, &mut data, &ack_id) {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(socket.id = %socket.id, "unreadable event name: {e}");
                return;
            }
        };
        let size = payload_size(&data);
        let req = EventRequest {
            socket,
            event,
            data,
            ack_id,
        };
        // Gates first: a flood is refused before it takes a place in the queue.
        if let Err(e) = self.gates.check(&req) {
            tracing::debug!(socket.id = %req.socket.id, event = %req.event, "event refused: {e}");
            req.reject(&e.to_string());
            return;
        }
        if let Err(req) = self.queue.push_event(req, size) {
            tracing::warn!(socket.id = %req.socket.id, event = %req.event, "event queue full, event refused");
            req.reject(&EventError::Overloaded.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The name read without a parser is the one JSON gives, or none when it needs escapes.
        #[test]
        fn plain_event_name_reads_what_json_says(name in "(?s).{0,12}", n in 0u32..10) {
            let text = serde_json::to_string(&(&name, n)).unwrap();
            // JSON escapes quotes, backslashes and the control characters below U+0020.
            let plain = !name.chars().any(|c| c == '"' || c == '\\' || c < '\u{20}');
            prop_assert_eq!(plain_event_name(&text), plain.then_some(name.as_str()));
        }
    }

    #[test]
    fn other_shapes_go_to_the_parser() {
        for text in [
            "[ \"spaced\",1]",
            "[\"esc\\\"aped\"]",
            "[\"unterminated",
            "{}",
            "[1]",
            "",
        ] {
            assert_eq!(plain_event_name(text), None, "{text}");
        }
        assert_eq!(plain_event_name("[\"\"]"), Some(""));
        assert_eq!(plain_event_name("[\"chat\",{\"a\":\"b\"}]"), Some("chat"));
    }

    #[test]
    fn payload_size_counts_text_and_attachments() {
        let data = Value::Str(
            "[\"e\",1]".into(),
            Some(vec![bytes::Bytes::from_static(b"abc")].into()),
        );
        assert_eq!(payload_size(&data), 10);
    }
}
