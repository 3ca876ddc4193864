//! [`NodeCompatAdapter`]: socketioxide's `CoreAdapter` speaking `@socket.io/redis-adapter`'s protocol.
//!
//! Everything this node does cluster-wide is published as the Node adapter would publish it;
//! the requests are built in `outgoing`, and what the other nodes publish is read in `incoming`.

use std::{
    borrow::Cow,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture, stream::BoxStream};
use serde_json::{Value as Json, json};
use socketioxide_core::{
    adapter::{
        AckStreamItem, BroadcastFlags, BroadcastOptions, CoreAdapter, CoreLocalAdapter,
        DefinedAdapter, RemoteSocketData, Room, RoomParam, SocketEmitter, Spawnable,
        errors::BroadcastError,
    },
    packet::Packet,
};

use crate::{
    cluster::Shared,
    connection::ChannelKind,
    error::Error,
    packet::{self, ValueForm},
    protocol::{Channels, RequestType},
    wire,
};

/// The state every namespace adapter of one node shares (socketioxide's adapter `State`);
/// made by [`RedisNodeAdapter`](crate::RedisNodeAdapter).
#[derive(Debug, Clone)]
pub struct ClusterState(pub(crate) Arc<Shared>);

/// The socketioxide adapter installed by [`RedisNodeAdapter`](crate::RedisNodeAdapter), one per
/// namespace.
pub struct NodeCompatAdapter<E> {
    pub(crate) local: CoreLocalAdapter<E>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) channels: Channels,
    pub(crate) form: ValueForm,
}

impl<E> std::fmt::Debug for NodeCompatAdapter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCompatAdapter")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// The end of a namespace's subscription, awaited by `iostack` before serving.
pub struct InitRes(pub(crate) BoxFuture<'static, Result<(), Error>>);

impl std::fmt::Debug for InitRes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitRes")
    }
}

impl Future for InitRes {
    type Output = Result<(), Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl Spawnable for InitRes {
    fn spawn(self) {
        tokio::spawn(async move {
            if let Err(e) = self.0.await {
                tracing::error!("redis-node namespace subscription failed: {e}");
            }
        });
    }
}

/// Acknowledgements of this node's clients merged with those other nodes forward.
pub type AckStream<E> = futures_util::stream::Fuse<BoxStream<'static, AckStreamItem<E>>>;

impl<E> DefinedAdapter for NodeCompatAdapter<E> {}

impl<E: SocketEmitter> CoreAdapter<E> for NodeCompatAdapter<E> {
    type Error = Error;
    type State = ClusterState;
    type AckStream = AckStream<E::AckError>;
    type InitRes = InitRes;

    fn new(state: &ClusterState, local: CoreLocalAdapter<E>) -> Self {
        let shared = state.0.clone();
        let channels = Channels::new(&shared.config.key, local.path(), &shared.uid);
        let form = ValueForm::of(local.parser());
        Self {
            local,
            shared,
            channels,
            form,
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> InitRes {
        InitRes(Box::pin(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(crate::connection::QUEUE);
            tokio::spawn(crate::incoming::run(Arc::downgrade(&self), rx));
            let ch = &self.channels;
            let channels = [
                (ChannelKind::Request, ch.request.clone()),
                (ChannelKind::Response, ch.response.clone()),
                (ChannelKind::Response, ch.own_response.clone()),
            ];
            let patterns = [(ChannelKind::Broadcast, format!("{}*", ch.broadcast))];
            self.shared
                .conn
                .subscribe(&channels, &patterns, tx)
                .await
                .map_err(|e| Error::redis("SUBSCRIBE", e))?;
            tracing::debug!(ns = self.path(), "redis-node namespace subscribed");
            on_success();
            Ok(())
        }))
    }

    async fn close(&self) -> Result<(), Error> {
        let ch = &self.channels;
        let channels = [
            ch.request.clone(),
            ch.response.clone(),
            ch.own_response.clone(),
        ];
        let patterns = [format!("{}*", ch.broadcast)];
        self.shared.conn.unsubscribe(&channels, &patterns).await;
        Ok(())
    }

    async fn server_count(&self) -> Result<u16, Error> {
        let n = self.shared.other_nodes(&self.channels.request).await?;
        Ok(u16::try_from(n + 1).unwrap_or(u16::MAX))
    }

    async fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> Result<(), BroadcastError> {
        if self.is_local(&opts) {
            return self
                .local
                .broadcast(packet, opts)
                .map_err(BroadcastError::from);
        }
        let remote_only = self.remote_target(&opts).is_some();
        if let Some(node_packet) = packet::to_node(&packet) {
            let (rooms, except) = self.wire_rooms(&opts);
            let flags = if opts.has_flag(BroadcastFlags::Volatile) {
                json!({ "volatile": true })
            } else {
                json!({})
            };
            let message = json!([
                self.shared.uid,
                node_packet.json,
                { "rooms": rooms, "except": except, "flags": flags },
            ]);
            let channel = self.channels.broadcast_to(&rooms);
            let bytes = wire::encode(&message, &node_packet.bins);
            if let Err(e) = self.shared.publish(&channel, bytes).await {
                let count = self.shared.count_local_only();
                tracing::warn!(count, "broadcast delivered to this node only: {e}");
            }
        }
        if remote_only {
            return Ok(());
        }
        self.local
            .broadcast(packet, opts)
            .map_err(BroadcastError::from)
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<Self::AckStream, Error> {
        let timeout = timeout.unwrap_or_else(|| self.local.ack_timeout());
        let node_packet = packet::to_node(&packet);
        let (local, _) = if self.remote_target(&opts).is_some() {
            (futures_util::stream::empty().boxed(), 0)
        } else {
            let (s, n) = self
                .local
                .broadcast_with_ack(packet, opts.clone(), Some(timeout));
            (s.boxed(), n)
        };
        if self.is_local(&opts) {
            return Ok(local.fuse());
        }
        let Some(node_packet) = node_packet else {
            return Ok(local.fuse());
        };
        let servers = match self.shared.other_nodes(&self.channels.request).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("acks of other nodes not collected: {e}");
                return Ok(local.fuse());
            }
        };
        let pending = self.shared.pending();
        let (rooms, except) = self.wire_rooms(&opts);
        let request = json!({
            "uid": self.shared.uid,
            "requestId": pending.id,
            "type": RequestType::Broadcast as u8,
            "packet": node_packet.json,
            "opts": { "rooms": rooms, "except": except, "flags": { "timeout": timeout.as_millis() as u64 } },
        });
        let bytes = wire::encode(&request, &node_packet.bins);
        self.shared.publish(&self.channels.request, bytes).await?;
        let remote = self.remote_acks(pending, servers, timeout);
        Ok(futures_util::stream::select(local, remote).boxed().fuse())
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Error> {
        let rooms: Vec<Room> = rooms.into_room_iter().collect();
        if self.remote_target(&opts).is_none() {
            self.local.add_sockets(opts.clone(), rooms.clone());
        }
        if self.is_local(&opts) {
            return Ok(());
        }
        self.publish_socket_set(RequestType::RemoteJoin, &opts, ("rooms", json!(rooms)))
            .await
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Error> {
        let rooms: Vec<Room> = rooms.into_room_iter().collect();
        if self.remote_target(&opts).is_none() {
            self.local.del_sockets(opts.clone(), rooms.clone());
        }
        if self.is_local(&opts) {
            return Ok(());
        }
        self.publish_socket_set(RequestType::RemoteLeave, &opts, ("rooms", json!(rooms)))
            .await
    }

    async fn disconnect_socket(&self, opts: BroadcastOptions) -> Result<(), BroadcastError> {
        let local = if self.remote_target(&opts).is_none() {
            self.local.disconnect_socket(opts.clone())
        } else {
            Ok(())
        };
        if !self.is_local(&opts) {
            self.publish_socket_set(
                RequestType::RemoteDisconnect,
                &opts,
                ("close", json!(false)),
            )
            .await
            .map_err(|e| BroadcastError::Adapter(e.into()))?;
        }
        local.map_err(BroadcastError::Socket)
    }

    async fn rooms(&self, opts: BroadcastOptions) -> Result<Vec<Room>, Error> {
        let mut rooms = self.local.rooms(opts.clone());
        if self.is_local(&opts) {
            return Ok(rooms.into_iter().collect());
        }
        let all = opts.rooms.is_empty() && opts.except.is_empty();
        if all && self.remote_target(&opts).is_none() {
            rooms.extend(self.remote_rooms().await?.into_iter().map(Cow::Owned));
        } else {
            for socket in self.remote_sockets(&opts).await? {
                let names = socket
                    .get("rooms")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                rooms.extend(names.into_iter().filter_map(|r| match r {
                    Json::String(s) => Some(Cow::Owned(s)),
                    _ => None,
                }));
            }
        }
        Ok(rooms.into_iter().collect())
    }

    async fn fetch_sockets(&self, opts: BroadcastOptions) -> Result<Vec<RemoteSocketData>, Error> {
        let mut sockets = if self.remote_target(&opts).is_some() {
            Vec::new()
        } else {
            self.local.fetch_sockets(opts.clone())
        };
        if self.is_local(&opts) {
            return Ok(sockets);
        }
        for socket in self.remote_sockets(&opts).await? {
            let Some(id) = socket.get("id").and_then(Json::as_str) else {
                continue;
            };
            sockets.push(RemoteSocketData {
                id: self.shared.alias(id),
                server_id: self.shared.remote_server,
                ns: self.local.path().clone(),
            });
        }
        Ok(sockets)
    }

    fn get_local(&self) -> &CoreLocalAdapter<E> {
        &self.local
    }
}
