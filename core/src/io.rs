//! [`Io`]: the handle to the whole server (the JS `strapi.$io`).

use serde::Serialize;
use socketioxide::{
    BroadcastError, SocketIo,
    adapter::{Adapter as IoAdapter, LocalAdapter},
    extract::SocketRef,
    operators::BroadcastOperators,
    socket::Sid,
};
use socketioxide_core::adapter::RoomParam;

use crate::{ConnectionInfo, ConnectionRegistry};

/// Event a socket receives from [`Io::disconnect_socket`] right before it is disconnected.
pub const SERVER_DISCONNECT_EVENT: &str = "server:disconnect";

/// A cheap-to-clone handle to the running server: emit, rooms, live sockets and cluster-wide actions.
///
/// Every broadcast goes through the installed adapter, so with Redis or MongoDB it reaches the
/// clients of every node. Add your own helpers as extension traits:
///
/// ```
/// use iostack_core::Io;
///
/// trait Announce {
///     async fn announce(&self, text: &str);
/// }
///
/// impl Announce for Io {
///     async fn announce(&self, text: &str) {
///         let _ = self.emit("announcement", &serde_json::json!({ "text": text })).await;
///     }
/// }
/// ```
pub struct Io<A: IoAdapter = LocalAdapter> {
    io: SocketIo<A>,
    registry: ConnectionRegistry,
    adapter_name: &'static str,
}

impl<A: IoAdapter> Clone for Io<A> {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            registry: self.registry.clone(),
            adapter_name: self.adapter_name,
        }
    }
}

impl<A: IoAdapter> std::fmt::Debug for Io<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("adapter", &self.adapter_name)
            .field("connections", &self.registry.len())
            .finish()
    }
}

/// Why a cluster-wide action on [`Io`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The socket id is not a valid Engine.IO session id.
    #[error("invalid socket id `{0}`")]
    InvalidSocketId(String),
    /// The adapter could not reach the other nodes.
    #[error("cluster request failed: {0}")]
    Adapter(String),
}

impl<A: IoAdapter> Io<A> {
    pub(crate) fn new(
        io: SocketIo<A>,
        registry: ConnectionRegistry,
        adapter_name: &'static str,
    ) -> Self {
        Self {
            io,
            registry,
            adapter_name,
        }
    }

    /// The underlying socketioxide handle, for everything this one does not wrap.
    pub fn socketio(&self) -> &SocketIo<A> {
        &self.io
    }

    /// Emits `event` to every client of the `/` namespace, on every node.
    pub async fn emit<T: ?Sized + Serialize>(
        &self,
        event: impl AsRef<str>,
        data: &T,
    ) -> Result<(), BroadcastError> {
        self.io.emit(event, data).await
    }

    /// Selects the clients of the `/` namespace in `rooms`, on every node.
    pub fn to(&self, rooms: impl RoomParam) -> BroadcastOperators<A> {
        self.io.to(rooms)
    }

    /// Selects every client of namespace `path`, if the namespace exists.
    pub fn of(&self, path: impl AsRef<str>) -> Option<BroadcastOperators<A>> {
        self.io.of(path)
    }

    /// The sockets connected to this node, over every namespace.
    pub fn sockets(&self) -> Vec<SocketRef<A>> {
        self.io
            .nsps()
            .into_iter()
            .flat_map(|ns| ns.sockets())
            .collect()
    }

    /// What the registry knows of the sockets connected to this node.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.registry.snapshot()
    }

    /// The registry of this node's live sockets.
    pub fn registry(&self) -> &ConnectionRegistry {
        &self.registry
    }

    /// Name of the installed adapter: `"memory"`, `"redis"`, `"mongo"`.
    pub fn adapter_name(&self) -> &'static str {
        self.adapter_name
    }

    /// Disconnects socket `id` wherever it is connected in the cluster, after sending it
    /// [`SERVER_DISCONNECT_EVENT`] `{"reason": reason}`.
    ///
    /// Returns whether a socket with that id was found.
    pub async fn disconnect_socket(&self, id: &str, reason: &str) -> Result<bool, IoError> {
        let sid: Sid = id
            .parse()
            .map_err(|_| IoError::InvalidSocketId(id.to_owned()))?;
        let payload = serde_json::json!({ "reason": reason });
        let mut found = false;
        for ns in self.io.nsps() {
            if let Some(socket) = ns.get_socket(sid) {
                found = true;
                let _ = socket.emit(SERVER_DISCONNECT_EVENT, &payload);
                let _ = socket.disconnect();
                continue;
            }
            let remote = ns
                .fetch_sockets()
                .await
                .map_err(|e| IoError::Adapter(e.to_string()))?;
            for socket in remote.into_iter().filter(|s| s.data().id == sid) {
                found = true;
                socket
                    .emit(SERVER_DISCONNECT_EVENT, &payload)
                    .await
                    .map_err(|e| IoError::Adapter(e.to_string()))?;
                socket
                    .disconnect()
                    .await
                    .map_err(|e| IoError::Adapter(e.to_string()))?;
            }
        }
        Ok(found)
    }
}
