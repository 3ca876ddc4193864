//! [`Dispatch`]: each incoming event of one socket goes through the gates, then onto the socket's
//! queue, or is refused.

use std::sync::Arc;

use socketioxide::{
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
        let event = match Event::from_message_parts(&socket, &mut data, &ack_id) {
            Ok(Event(event)) => event,
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

    #[test]
    fn payload_size_counts_text_and_attachments() {
        let data = Value::Str(
            "[\"e\",1]".into(),
            Some(vec![bytes::Bytes::from_static(b"abc")].into()),
        );
        assert_eq!(payload_size(&data), 10);
    }
}
