//! [`AnyAdapter`]: the one socketioxide adapter every iostack app runs on.
//!
//! socketioxide types its sockets, acks and broadcasts by adapter (`SocketRef<RedisAdapter<..>>`).
//! iostack installs this adapter whatever the backend and forwards every call to the backend chosen
//! with [`AppBuilder::adapter`](crate::AppBuilder::adapter), so handlers, hooks and layers name one
//! type and compile unchanged on memory, Redis and MongoDB. On the way it counts every message a
//! broadcast from this node could not hand to a local socket (full buffer) in the app's
//! [`Deliveries`], whatever the caller does with the result, and applies the app's
//! [`Overflow`] policy.

use std::{
    any::TypeId,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{FutureExt, stream::FusedStream};
use socketioxide::{BroadcastError, SocketError, adapter::Emitter};
use socketioxide_core::{
    adapter::{
        AckStreamItem, BroadcastFlags, BroadcastOptions, CoreAdapter, CoreLocalAdapter,
        DefinedAdapter, RemoteSocketData, Room, RoomParam, SocketEmitter, Spawnable,
        errors::AdapterError as IoAdapterError,
    },
    packet::Packet,
};

use crate::{
    AdapterError, BoxFuture,
    delivery::{CountedAcks, Deliveries, Overflow, dropped_in, offer, offer_until},
};

type Local = CoreLocalAdapter<Emitter>;
type AckItem = AckStreamItem<<Emitter as SocketEmitter>::AckError>;

/// The acknowledgements of a broadcast, whatever the backend.
pub type AnyAckStream = std::pin::Pin<Box<dyn FusedStream<Item = AckItem> + Send>>;

/// The socketioxide adapter of every iostack app: it forwards to the backend the app was built
/// with. Users never construct or name it; it is the adapter of the socketioxide types in
/// iostack's API ([`SocketRef`](crate::extract::SocketRef), [`AckSender`](crate::extract::AckSender),
/// the operators of [`Io`](crate::Io)).
pub struct AnyAdapter {
    backend: Box<dyn Backend>,
    deliveries: Deliveries,
    /// The backend is socketioxide's in-memory adapter: its broadcast is the local one.
    memory: bool,
}

/// What every namespace's [`AnyAdapter`] is built from: the backend's own socketioxide state.
pub struct AnyState {
    make: Box<dyn Fn(Local) -> Box<dyn Backend> + Send + Sync>,
    deliveries: Deliveries,
    memory: bool,
}

impl AnyState {
    /// Wraps the state of socketioxide adapter `A`; `ready` turns a namespace's init result into a
    /// future that resolves once the namespace can serve (e.g. subscribed to its channels).
    pub(crate) fn new<A: socketioxide::adapter::Adapter>(
        state: A::State,
        ready: fn(A::InitRes) -> BoxFuture<'static, Result<(), AdapterError>>,
        deliveries: Deliveries,
    ) -> Self {
        Self {
            make: Box::new(move |local| {
                Box::new(Forward {
                    adapter: Arc::new(A::new(&state, local)),
                    ready,
                })
            }),
            deliveries,
            memory: TypeId::of::<A>() == TypeId::of::<socketioxide::adapter::LocalAdapter>(),
        }
    }
}

/// A namespace's readiness, returned when it is added: the builder awaits it, socketioxide spawns
/// it for namespaces created on the fly.
pub struct NamespaceReady(BoxFuture<'static, Result<(), AdapterError>>);

impl NamespaceReady {
    /// Resolves once the namespace can serve, or with why it cannot.
    pub async fn wait(self) -> Result<(), AdapterError> {
        self.0.await
    }
}

impl Spawnable for NamespaceReady {
    fn spawn(self) {
        tokio::spawn(async move {
            if let Err(e) = self.0.await {
                tracing::error!(error = %e, "namespace adapter failed to start");
            }
        });
    }
}

/// A socketioxide adapter with its type erased.
trait Backend: Send + Sync + 'static {
    fn init(&self, on_success: Box<dyn FnOnce() + Send>) -> NamespaceReady;
    fn close(&self) -> BoxFuture<'_, Result<(), IoAdapterError>>;
    fn server_count(&self) -> BoxFuture<'_, Result<u16, IoAdapterError>>;
    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), BroadcastError>>;
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<AnyAckStream, IoAdapterError>>;
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), IoAdapterError>>;
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), IoAdapterError>>;
    fn disconnect_socket(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), BroadcastError>>;
    fn rooms(&self, opts: BroadcastOptions) -> BoxFuture<'_, Result<Vec<Room>, IoAdapterError>>;
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<RemoteSocketData>, IoAdapterError>>;
    fn local(&self) -> &Local;
}

struct Forward<A: socketioxide::adapter::Adapter> {
    adapter: Arc<A>,
    ready: fn(A::InitRes) -> BoxFuture<'static, Result<(), AdapterError>>,
}

fn erased<T, E: Into<IoAdapterError>>(result: Result<T, E>) -> Result<T, IoAdapterError> {
    result.map_err(Into::into)
}

impl<A: socketioxide::adapter::Adapter> Backend for Forward<A> {
    fn init(&self, on_success: Box<dyn FnOnce() + Send>) -> NamespaceReady {
        NamespaceReady((self.ready)(self.adapter.clone().init(on_success)))
    }
    fn close(&self) -> BoxFuture<'_, Result<(), IoAdapterError>> {
        self.adapter.close().map(erased).boxed()
    }
    fn server_count(&self) -> BoxFuture<'_, Result<u16, IoAdapterError>> {
        self.adapter.server_count().map(erased).boxed()
    }
    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), BroadcastError>> {
        self.adapter.broadcast(packet, opts).boxed()
    }
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<AnyAckStream, IoAdapterError>> {
        self.adapter
            .broadcast_with_ack(packet, opts, timeout)
            .map(|result| match result {
                Ok(stream) => Ok(Box::pin(stream) as AnyAckStream),
                Err(e) => Err(e.into()),
            })
            .boxed()
    }
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), IoAdapterError>> {
        self.adapter.add_sockets(opts, rooms).map(erased).boxed()
    }
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), IoAdapterError>> {
        self.adapter.del_sockets(opts, rooms).map(erased).boxed()
    }
    fn disconnect_socket(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), BroadcastError>> {
        self.adapter.disconnect_socket(opts).boxed()
    }
    fn rooms(&self, opts: BroadcastOptions) -> BoxFuture<'_, Result<Vec<Room>, IoAdapterError>> {
        self.adapter.rooms(opts).map(erased).boxed()
    }
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<RemoteSocketData>, IoAdapterError>> {
        self.adapter.fetch_sockets(opts).map(erased).boxed()
    }
    fn local(&self) -> &Local {
        self.adapter.get_local()
    }
}

impl CoreAdapter<Emitter> for AnyAdapter {
    type Error = IoAdapterError;
    type State = AnyState;
    type AckStream = AnyAckStream;
    type InitRes = NamespaceReady;

    fn new(state: &AnyState, local: Local) -> Self {
        Self {
            backend: (state.make)(local),
            deliveries: state.deliveries.clone(),
            memory: state.memory,
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> NamespaceReady {
        self.backend.init(Box::new(on_success))
    }

    async fn close(&self) -> Result<(), IoAdapterError> {
        self.backend.close().await
    }

    async fn server_count(&self) -> Result<u16, IoAdapterError> {
        self.backend.server_count().await
    }

    async fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> Result<(), BroadcastError> {
        let overflow = self.deliveries.overflow();
        if overflow != Overflow::DropNewest && !opts.has_flag(BroadcastFlags::Volatile) {
            return self.broadcast_one_by_one(packet, opts, overflow).await;
        }
        let result = self.backend.broadcast(packet, opts).await;
        if let Err(e) = &result {
            self.deliveries.add(self.get_local().path(), dropped_in(e));
        }
        result
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<AnyAckStream, IoAdapterError> {
        let acks = self
            .backend
            .broadcast_with_ack(packet, opts, timeout)
            .await?;
        let ns = self.get_local().path().clone();
        Ok(Box::pin(CountedAcks::new(
            acks,
            self.deliveries.clone(),
            ns,
        )))
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), IoAdapterError> {
        let rooms = rooms.into_room_iter().collect();
        self.backend.add_sockets(opts, rooms).await
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), IoAdapterError> {
        let rooms = rooms.into_room_iter().collect();
        self.backend.del_sockets(opts, rooms).await
    }

    async fn disconnect_socket(&self, opts: BroadcastOptions) -> Result<(), BroadcastError> {
        self.backend.disconnect_socket(opts).await
    }

    async fn rooms(&self, opts: BroadcastOptions) -> Result<Vec<Room>, IoAdapterError> {
        self.backend.rooms(opts).await
    }

    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> Result<Vec<RemoteSocketData>, IoAdapterError> {
        self.backend.fetch_sockets(opts).await
    }

    fn get_local(&self) -> &Local {
        self.backend.local()
    }
}

impl DefinedAdapter for AnyAdapter {}

/// The local sockets a waiting broadcast offers its message to, as a room of their own, left
/// when dropped (also when the broadcast's future is).
struct OfferedRoom<'a> {
    local: &'a Local,
    room: Room,
}

impl<'a> OfferedRoom<'a> {
    /// Puts the local sockets `opts` selects in a new room, named after this node: another node's
    /// broadcast that excludes its own room must not exclude this node's sockets.
    fn join(local: &'a Local, opts: BroadcastOptions) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let room = Room::from(format!(
            "iostack:offered:{}:{}",
            local.server_id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        local.add_sockets(opts, room.clone());
        Self { local, room }
    }

    /// Selects the room's sockets.
    fn members(&self) -> BroadcastOptions {
        let mut opts = BroadcastOptions::default();
        opts.rooms.push(self.room.clone());
        opts
    }
}

impl Drop for OfferedRoom<'_> {
    fn drop(&mut self) {
        self.local.del_sockets(self.members(), self.room.clone());
    }
}

impl AnyAdapter {
    /// A broadcast under [`Overflow::Wait`] or [`Overflow::Disconnect`]: the local sockets get the
    /// message one by one, so that the full ones are known; other nodes get it through the backend
    /// as usual. The full ones are offered it again until the bound (`Wait`) or disconnected.
    async fn broadcast_one_by_one(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        overflow: Overflow,
    ) -> Result<(), BroadcastError> {
        let local = self.get_local();
        let (full, mut refused, remote) = if self.memory || opts.is_local(local.server_id()) {
            let (full, refused) = offer(local, &packet, local.sockets(opts));
            (full, refused, Ok(()))
        } else {
            // The backend broadcasts to the other nodes and to this one's sockets: the sockets
            // offered the message here join a room of their own that the backend's broadcast
            // excludes. Other nodes have no socket in it.
            let offered = OfferedRoom::join(local, opts.clone());
            let (full, refused) = offer(local, &packet, local.sockets(offered.members()));
            let mut rest = opts;
            rest.except.push(offered.room.clone());
            let remote = self.backend.broadcast(packet.clone(), rest).await;
            drop(offered);
            (full, refused, remote)
        };
        if let Err(e) = &remote {
            // Sockets that connected after the offers took the message through the backend.
            self.deliveries.add(local.path(), dropped_in(e));
        }
        let dropped = if let Overflow::Wait(bound) = overflow {
            offer_until(local, &packet, full, bound).await
        } else {
            for sid in &full {
                self.deliveries.disconnect_slow(local.path(), *sid);
            }
            full.len()
        };
        self.deliveries.add(local.path(), dropped);
        refused.extend(std::iter::repeat_n(
            SocketError::InternalChannelFull,
            dropped,
        ));
        remote?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(BroadcastError::Socket(refused))
        }
    }
}
