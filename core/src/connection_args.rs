//! [`FromConnection`]: the arguments of connection and disconnect hooks, as extractors.

use socketioxide::socket::DisconnectReason;

use crate::{Identity, extract::SocketRef};

/// An argument of a `#[on_connection]` or `#[on_disconnect]` method of `#[hooks]`, taken from
/// the socket, as [`FromEvent`](crate::FromEvent) is for event handlers.
///
/// `None` skips the method for this socket: an `Identity` argument makes the method run for
/// authenticated sockets only, a `DisconnectReason` argument for disconnects only. Implement it
/// for your own types to take them straight from the socket's extensions.
///
/// ```
/// use iostack_core::{FromConnection, extract::{DisconnectReason, SocketRef}};
///
/// /// The tenant a connect layer stored in the socket's extensions.
/// #[derive(Clone)]
/// struct Tenant(String);
///
/// impl FromConnection for Tenant {
///     fn from_connection(socket: &SocketRef, _: Option<DisconnectReason>) -> Option<Self> {
///         socket.extensions.get::<Tenant>()
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a connection or disconnect hook",
    note = "arguments must implement `FromConnection`: SocketRef, Identity, Option<Identity>, DisconnectReason (on_disconnect), or your own type"
)]
pub trait FromConnection: Sized {
    /// The argument for this socket; `reason` is set for disconnect hooks only.
    fn from_connection(socket: &SocketRef, reason: Option<DisconnectReason>) -> Option<Self>;
}

impl FromConnection for SocketRef {
    fn from_connection(socket: &SocketRef, _: Option<DisconnectReason>) -> Option<Self> {
        Some(socket.clone())
    }
}

/// The socket's identity: the method runs for authenticated sockets only.
impl FromConnection for Identity {
    fn from_connection(socket: &SocketRef, _: Option<DisconnectReason>) -> Option<Self> {
        socket.extensions.get::<Identity>()
    }
}

/// The socket's identity, if any: the method runs for every socket.
impl FromConnection for Option<Identity> {
    fn from_connection(socket: &SocketRef, _: Option<DisconnectReason>) -> Option<Self> {
        Some(socket.extensions.get::<Identity>())
    }
}

/// Why the socket left: the method runs on disconnect only.
impl FromConnection for DisconnectReason {
    fn from_connection(_: &SocketRef, reason: Option<DisconnectReason>) -> Option<Self> {
        reason
    }
}
