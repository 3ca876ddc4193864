//! [`Io`]: the handle to the whole server (the JS `strapi.$io`).

use serde::Serialize;
use socketioxide::{BroadcastError, SocketIo, operators::BroadcastOperators};
use socketioxide_core::adapter::RoomParam;

use crate::{
    AnyAdapter, ConnectionInfo, ConnectionRegistry, delivery::Deliveries, extract::SocketRef,
};

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
pub struct Io {
    io: SocketIo<AnyAdapter>,
    registry: ConnectionRegistry,
    deliveries: Deliveries,
    adapter_name: &'static str,
}

impl Clone for Io {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            registry: self.registry.clone(),
            deliveries: self.deliveries.clone(),
            adapter_name: self.adapter_name,
        }
    }
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("adapter", &self.adapter_name)
            .field("connections", &self.registry.len())
            .finish()
    }
}

impl Io {
    pub(crate) fn new(
        io: SocketIo<AnyAdapter>,
        registry: ConnectionRegistry,
        adapter_name: &'static str,
        deliveries: Deliveries,
    ) -> Self {
        Self {
            io,
            registry,
            deliveries,
            adapter_name,
        }
    }

    /// The underlying socketioxide handle, for everything this one does not wrap.
    pub fn socketio(&self) -> &SocketIo<AnyAdapter> {
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

    /// The messages this app's sockets could not take (full buffers), counted per namespace.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Selects the clients of the `/` namespace in `rooms`, on every node.
    pub fn to(&self, rooms: impl RoomParam) -> BroadcastOperators<AnyAdapter> {
        self.io.to(rooms)
    }

    /// Selects every client of namespace `path`, if the namespace exists.
    pub fn of(&self, path: impl AsRef<str>) -> Option<BroadcastOperators<AnyAdapter>> {
        self.io.of(path)
    }

    /// The sockets connected to this node, over every namespace.
    pub fn sockets(&self) -> Vec<SocketRef> {
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
}
