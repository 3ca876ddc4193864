//! [`Dispatch`]: each incoming event of one socket goes through the gates, then onto the socket's
//! queue, bounded in events and in bytes.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use socketioxide::{
    extract::Event,
    handler::{FromMessageParts, MessageHandler},
    socket::Socket,
};
use socketioxide_core::Value;
use tokio::sync::mpsc;

use super::{Job, Stacked};
use crate::{AnyAdapter, EventError, EventRequest, gate::Gates};

/// Bytes of event payloads waiting in one socket's queue.
#[derive(Debug, Clone, Default)]
pub(super) struct QueuedBytes(Arc<AtomicUsize>);

impl QueuedBytes {
    /// Reserves `bytes` unless that would pass `limit`; one event alone may always be queued.
    fn reserve(&self, bytes: usize, limit: usize) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued + bytes <= limit).then_some(queued + bytes)
            })
            .is_ok()
    }

    pub(super) fn release(&self, bytes: usize) {
        self.0.fetch_sub(bytes, Ordering::AcqRel);
    }
}

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
pub(super) struct Dispatch {
    pub(super) jobs: mpsc::Sender<Box<Job>>,
    pub(super) gates: Gates,
    pub(super) queued: QueuedBytes,
    pub(super) queue_bytes: usize,
}

impl MessageHandler<AnyAdapter, Stacked> for Dispatch {
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
        if !self.queued.reserve(size, self.queue_bytes) {
            tracing::warn!(socket.id = %req.socket.id, event = %req.event, "event queue full (bytes), event refused");
            req.reject(&EventError::Overloaded.to_string());
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(job)) =
            self.jobs.try_send(Box::new(Job::Event(req, size)))
            && let Job::Event(req, size) = *job
        {
            self.queued.release(size);
            tracing::warn!(socket.id = %req.socket.id, event = %req.event, "event queue full, event refused");
            req.reject(&EventError::Overloaded.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_budget_admits_one_event_then_up_to_the_limit() {
        let queued = QueuedBytes::default();
        assert!(queued.reserve(5000, 1000), "one event alone always fits");
        assert!(!queued.reserve(1, 1000));
        queued.release(5000);
        assert!(queued.reserve(600, 1000));
        assert!(queued.reserve(400, 1000));
        assert!(!queued.reserve(1, 1000));
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
