//! The connect stack: what a connect layer sees, and the innermost service that admits.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    net::SocketAddr,
    task::{Context, Poll},
};

use axum::extract::ConnectInfo;
use socketioxide::socket::DisconnectReason;

use crate::{Identity, extract::SocketRef};

/// A callback run once when an admitted socket disconnects.
pub(crate) type DisconnectCallback = Box<dyn FnOnce(&SocketRef, DisconnectReason) + Send>;

/// One connection attempt to a namespace, before the socket is admitted.
///
/// Connect layers are `tower` services over this type. They read the handshake (peer, headers,
/// `auth` payload), attach an [`Identity`], and either pass the request inward or return an error,
/// whose `Display` the client receives as its `connect_error` message.
pub struct ConnectRequest {
    socket: SocketRef,
    auth: serde_json::Value,
    identity: Option<Identity>,
    rooms: Vec<String>,
    on_disconnect: Vec<DisconnectCallback>,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("ns", &self.ns())
            .field("peer", &self.peer())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl ConnectRequest {
    pub(crate) fn new(socket: SocketRef, auth: serde_json::Value) -> Self {
        Self {
            socket,
            auth,
            identity: None,
            rooms: Vec::new(),
            on_disconnect: Vec::new(),
        }
    }

    /// The namespace being joined, e.g. `/` or `/admin`.
    pub fn ns(&self) -> &str {
        self.socket.ns()
    }

    /// The TCP peer address, when the server recorded it (see [`App::serve`](crate::App::serve)).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.socket
            .req_parts()
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
    }

    /// The headers of the handshake request.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.socket.req_parts().headers
    }

    /// The handshake's `User-Agent` header, when present and readable.
    pub fn user_agent(&self) -> Option<&str> {
        self.headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }

    /// The client's `auth` payload (`io(url, { auth })`); `{}` when it sent none.
    pub fn auth(&self) -> &serde_json::Value {
        &self.auth
    }

    /// The socket being admitted. It is not connected yet: it cannot receive messages.
    pub fn socket(&self) -> &SocketRef {
        &self.socket
    }

    /// The identity attached so far.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Attaches the authenticated identity; handlers read it with the [`Identity`] extractor.
    pub fn set_identity(&mut self, identity: Identity) {
        self.identity = Some(identity);
    }

    /// Makes the socket join `room` as it is admitted, before it can receive anything.
    pub fn join(&mut self, room: impl Into<String>) {
        self.rooms.push(room.into());
    }

    /// Runs `callback` once when the socket disconnects, if it is admitted.
    pub fn on_disconnect(
        &mut self,
        callback: impl FnOnce(&SocketRef, DisconnectReason) + Send + 'static,
    ) {
        self.on_disconnect.push(Box::new(callback));
    }

    pub(crate) fn into_admission(self) -> Admission {
        Admission {
            socket: self.socket,
            identity: self.identity,
            rooms: self.rooms,
            on_disconnect: self.on_disconnect,
        }
    }
}

/// What the connect stack decided for an admitted socket.
pub(crate) struct Admission {
    pub(crate) socket: SocketRef,
    pub(crate) identity: Option<Identity>,
    pub(crate) rooms: Vec<String>,
    pub(crate) on_disconnect: Vec<DisconnectCallback>,
}

/// The innermost service of every connect stack: admits the request as the layers left it.
#[derive(Debug, Clone)]
pub struct Admit(());

impl Admit {
    pub(crate) fn new() -> Self {
        Self(())
    }
}

impl tower_service::Service<ConnectRequest> for Admit {
    type Response = ConnectRequest;
    type Error = Infallible;
    type Future = Ready<Result<ConnectRequest, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ConnectRequest) -> Self::Future {
        ready(Ok(req))
    }
}
