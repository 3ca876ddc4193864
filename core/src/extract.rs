//! Extractors: what an event handler's arguments can be.
//!
//! A handler is an async function whose arguments all implement [`FromEvent`]: the socket, the
//! event's data, its ack sender, the app state, the caller's identity, the [`Io`] handle. An
//! argument that cannot be extracted answers the client with an error instead of being dropped.

use serde::de::DeserializeOwned;
use socketioxide::handler::FromMessageParts;

use crate::{AnyAdapter, EventError, EventRequest, Identity, Io};

pub use socketioxide::extract::{Data, Event, TryData};

/// The socket that sent the event (socketioxide's `SocketRef`, on the app's [`AnyAdapter`]): the
/// same type whatever backend the app was built with.
pub type SocketRef = socketioxide::extract::SocketRef<AnyAdapter>;

/// Answers the client's acknowledgement (socketioxide's `AckSender`, on the app's [`AnyAdapter`]).
pub type AckSender = socketioxide::extract::AckSender<AnyAdapter>;
pub use socketioxide::socket::DisconnectReason;

/// What handlers share: the app state and the [`Io`] handle.
pub struct AppContext<S> {
    pub(crate) state: S,
    pub(crate) io: Io,
}

impl<S> AppContext<S> {
    /// The app state given to [`App::builder`](crate::App::builder).
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The server handle.
    pub fn io(&self) -> &Io {
        &self.io
    }
}

/// Something an event handler can take as an argument.
///
/// ```
/// use iostack_core::{AppContext, EventError, EventRequest, FromEvent};
///
/// /// The socket's namespace, as an argument.
/// struct Namespace(String);
///
/// impl<S> FromEvent<S> for Namespace {
///     fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
///         Ok(Namespace(req.socket().ns().to_owned()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event handler argument",
    note = "arguments must implement `FromEvent`: SocketRef, Data<T>, TryData<T>, AckSender, Event, State<S>, Identity, Option<Identity>, Io, or your own type"
)]
pub trait FromEvent<S>: Sized {
    /// Extracts the argument, or refuses the event with the error the client will read.
    fn from_event(req: &mut EventRequest, cx: &AppContext<S>) -> Result<Self, EventError>;
}

/// The app state, cloned into the handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

impl<S: Clone> FromEvent<S> for State<S> {
    fn from_event(_: &mut EventRequest, cx: &AppContext<S>) -> Result<Self, EventError> {
        Ok(State(cx.state.clone()))
    }
}

impl<S> FromEvent<S> for Io {
    fn from_event(_: &mut EventRequest, cx: &AppContext<S>) -> Result<Self, EventError> {
        Ok(cx.io.clone())
    }
}

impl<S> FromEvent<S> for SocketRef {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        Ok(req.socket_ref())
    }
}

/// Takes the acknowledgement over: the handler answers it, and its return value no longer does.
impl<S> FromEvent<S> for AckSender {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        let ack = req.ack_sender();
        req.ack_id = None;
        Ok(ack)
    }
}

impl<S> FromEvent<S> for Event {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        Ok(Event(req.event.clone()))
    }
}

/// Refuses the event with [`EventError::InvalidPayload`] when the arguments do not fit `T`.
impl<S, T: DeserializeOwned> FromEvent<S> for Data<T> {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        req.data().map(Data)
    }
}

/// Hands the decoding result to the handler, which decides what a bad payload means.
impl<S, T: DeserializeOwned> FromEvent<S> for TryData<T> {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        match TryData::from_message_parts(&req.socket, &mut req.data, &req.ack_id) {
            Ok(data) => Ok(data),
            Err(never) => match never {},
        }
    }
}

/// Refuses the event with `Authentication required` when the socket has no identity.
impl<S> FromEvent<S> for Identity {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        req.socket
            .extensions
            .get::<Identity>()
            .ok_or(EventError::Unauthenticated)
    }
}

impl<S> FromEvent<S> for Option<Identity> {
    fn from_event(req: &mut EventRequest, _: &AppContext<S>) -> Result<Self, EventError> {
        Ok(req.socket.extensions.get::<Identity>())
    }
}
