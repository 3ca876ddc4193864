//! The event stack: what an event layer sees, and how a refusal reaches the client.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use socketioxide::{extract::Data, handler::FromMessageParts, socket::Socket};
use socketioxide_core::Value;

use crate::{
    AnyAdapter, EventError,
    extract::{AckSender, SocketRef},
};

/// The event a client receives when one of its events fails and it asked for no ack.
pub const ERROR_EVENT: &str = "error";

/// One incoming event, on its way through the event stack to its handler.
///
/// Event layers are `tower` services over this type. The arguments stay in the parser's
/// representation until a handler (or a layer, through [`data`](Self::data)) decodes them, so a
/// layer that only looks at the name or the socket costs no deserialization.
///
/// A clone is the same event of the same socket, with its own copy of the arguments: a layer may
/// keep one (to mirror events elsewhere, say) and hand the original on.
#[derive(Clone)]
pub struct EventRequest {
    pub(crate) socket: Arc<Socket<AnyAdapter>>,
    pub(crate) event: String,
    pub(crate) data: Value,
    pub(crate) ack_id: Option<i64>,
}

impl std::fmt::Debug for EventRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRequest")
            .field("socket", &self.socket.id)
            .field("ns", &self.socket.ns())
            .field("event", &self.event)
            .field("wants_ack", &self.wants_ack())
            .finish()
    }
}

impl EventRequest {
    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The socket that sent the event.
    pub fn socket(&self) -> &Socket<AnyAdapter> {
        &self.socket
    }

    /// A handle to the socket that sent the event.
    pub fn socket_ref(&self) -> SocketRef {
        SocketRef::from(self.socket.clone())
    }

    /// Whether the client is waiting for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack_id.is_some()
    }

    /// Decodes the arguments as `T`: a tuple takes every argument, any other type the first one.
    ///
    /// Binary attachments are moved out by the first decode, so decode once.
    pub fn data<T: DeserializeOwned>(&mut self) -> Result<T, EventError> {
        Data::<T>::from_message_parts(&self.socket, &mut self.data, &self.ack_id)
            .map(|Data(v)| v)
            .map_err(|e| EventError::InvalidPayload {
                event: self.event.clone(),
                reason: e.to_string(),
            })
    }

    /// The acknowledgement sender of this event (sending does nothing if the client asked for none).
    pub fn ack_sender(&self) -> AckSender {
        ack_sender(&self.socket, self.ack_id)
    }

    /// Tells the client that this event failed: an error ack `{"error": {"message"}}` if it asked for
    /// an ack, else an [`ERROR_EVENT`] `{"message"}`, the shape Socket.IO servers commonly use.
    pub fn reject(&self, message: &str) {
        reject(&self.socket, &self.event, self.ack_id, message);
    }

    /// What is needed to reject the event once the request itself has been handed on.
    pub(crate) fn rejecter(&self) -> Rejecter {
        Rejecter {
            socket: self.socket.clone(),
            event: self.event.clone(),
            ack_id: self.ack_id,
        }
    }
}

/// The socket, name and ack id of an event handed on to its handler: enough to tell the client
/// that the event failed.
pub(crate) struct Rejecter {
    socket: Arc<Socket<AnyAdapter>>,
    event: String,
    ack_id: Option<i64>,
}

impl Rejecter {
    /// The socket that sent the event.
    pub(crate) fn socket(&self) -> &Socket<AnyAdapter> {
        &self.socket
    }

    /// The event name.
    pub(crate) fn event(&self) -> &str {
        &self.event
    }

    /// As [`EventRequest::reject`].
    pub(crate) fn reject(&self, message: &str) {
        reject(&self.socket, &self.event, self.ack_id, message);
    }
}

/// Sends `message` as the failure of event `event` of `socket`: as an error ack when the client
/// asked for ack `ack_id`, else as an [`ERROR_EVENT`].
fn reject(socket: &Arc<Socket<AnyAdapter>>, event: &str, ack_id: Option<i64>, message: &str) {
    if ack_id.is_some() {
        let body = serde_json::json!({ "error": { "message": message } });
        if let Err(e) = ack_sender(socket, ack_id).send(&body) {
            tracing::debug!(socket.id = %socket.id, event, "error ack not sent: {e}");
        }
    } else {
        let body = serde_json::json!({ "message": message });
        if let Err(e) = socket.emit(ERROR_EVENT, &body) {
            tracing::debug!(socket.id = %socket.id, event, "error event not sent: {e}");
        }
    }
}

/// The acknowledgement sender of ack `ack_id` of `socket` (sending does nothing without one).
fn ack_sender(socket: &Arc<Socket<AnyAdapter>>, ack_id: Option<i64>) -> AckSender {
    let mut empty = Value::Str("".into(), None);
    match AckSender::from_message_parts(socket, &mut empty, &ack_id) {
        Ok(ack) => ack,
        Err(never) => match never {},
    }
}
