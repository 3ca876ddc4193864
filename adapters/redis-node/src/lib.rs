//! A Redis adapter for [iostack](https://docs.rs/iostack) that speaks the protocol of Node's
//! [`@socket.io/redis-adapter`](https://github.com/socketio/socket.io-redis-adapter) 8.x: an
//! iostack node joins an existing Node.js socket.io 4.x cluster on the same Redis, and acts on
//! what [`@socket.io/redis-emitter`](https://github.com/socketio/socket.io-redis-emitter) 5.x
//! publishes.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_redis_node::RedisNodeAdapter;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let adapter = RedisNodeAdapter::from_env(); // REDIS_URL, the Node servers' Redis
//! let cluster = adapter.cluster();
//! cluster.on_server_side_emit("/", |ev| {
//!     tracing::info!(event = ev.event, "from another node");
//!     if let Some(ack) = ev.ack {
//!         ack.send(serde_json::json!("ok from iostack"));
//!     }
//! });
//! let app = App::builder(()).adapter(adapter).build().await?;
//! app.io().emit("hello", &"every client of every node, Node or iostack").await?;
//! cluster.server_side_emit("/", "ping", vec![serde_json::json!(1)]).await?;
//! # Ok(()) }
//! ```
//!
//! # What crosses nodes
//!
//! | operation (socketioxide / Node) | iostack → Node | Node → iostack |
//! |---|---|---|
//! | `emit`, `to(rooms)`, `except(rooms)`, `broadcast()`, volatile, binary | broadcast channel | broadcast channel |
//! | `fetch_sockets` / `fetchSockets` | `REMOTE_FETCH` | answered |
//! | `sockets_join` / `socketsJoin`, `leave`, `disconnect_sockets` | `REMOTE_JOIN/LEAVE/DISCONNECT` | applied |
//! | `emit_with_ack` / `timeout().emitWithAck` | `BROADCAST` + acks | answered with acks |
//! | `rooms` / `allRooms`, server count | `ALL_ROOMS`, `PUBSUB NUMSUB` | answered |
//! | `serverSideEmit` (with acks) | [`NodeCluster`] | [`NodeCluster::on_server_side_emit`] |
//!
//! Sockets of Node servers have 20-character ids, socketioxide's have 16: a Node socket returned
//! by `fetch_sockets` carries a stable 16-character alias, and operations on it reach the Node
//! socket through the room of its real id, as Node does itself. socketioxide does not let an
//! adapter see a socket's handshake or extensions: Node's `fetchSockets` gets iostack sockets with
//! their id and rooms, an empty handshake, and the `data` that [`NodeCluster::socket_data`] gives.
//!
//! # Failures
//!
//! If Redis cannot be reached at start, `build()` fails with the URL (password redacted). Later
//! outages: the pub/sub connection is re-established with backoff and every channel resubscribed;
//! meanwhile broadcasts still reach this node's clients (counted in
//! [`NodeCluster::local_only_broadcasts`]), cluster-wide requests fail with a clear [`Error`]
//! within their timeout, and `health()` reports the cause. A message on the channels that cannot
//! be read is logged and skipped.
//!
//! Only the default (common) socket.io parser is supported on both sides, as on Node.

mod adapter;
mod cluster;
mod config;
mod connection;
mod error;
mod incoming;
mod outgoing;
mod packet;
mod protocol;
mod server_side;
mod wire;

pub use adapter::{AckStream, ClusterState, InitRes, NodeCompatAdapter};
pub use config::{DEFAULT_REDIS_URL, RedisNodeConfig};
pub use error::Error;
pub use server_side::{NodeCluster, ServerSideAck, ServerSideEvent};

use std::sync::Arc;

use iostack_core::{Adapter, AdapterError, BoxFuture, Health, IoState, NamespaceInit};
use socketioxide::adapter::Emitter;

use cluster::Shared;
use connection::Connection;

/// The socketioxide adapter installed by [`RedisNodeAdapter`].
pub type RedisNodeIoAdapter = NodeCompatAdapter<Emitter>;

/// Joins iostack nodes to a Node.js socket.io cluster through Redis, speaking
/// `@socket.io/redis-adapter`'s protocol.
#[derive(Debug)]
pub struct RedisNodeAdapter {
    config: RedisNodeConfig,
    cluster: NodeCluster,
}

impl RedisNodeAdapter {
    /// Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`), key `socket.io` or
    /// `SOCKET_IO_REDIS_KEY`.
    pub fn from_env() -> Self {
        Self::new(RedisNodeConfig::from_env())
    }

    /// Redis as `config` says.
    pub fn new(config: RedisNodeConfig) -> Self {
        Self {
            config,
            cluster: NodeCluster::default(),
        }
    }

    /// The handle for server-side emits and remote socket details; works once the app is built.
    pub fn cluster(&self) -> NodeCluster {
        self.cluster.clone()
    }

    fn error(&self, cause: impl std::fmt::Display) -> AdapterError {
        AdapterError::new(format!(
            "cannot reach Redis at {}: {cause}",
            self.config.redacted_url()
        ))
    }
}

#[async_trait::async_trait]
impl Adapter for RedisNodeAdapter {
    type Io = RedisNodeIoAdapter;

    fn name(&self) -> &'static str {
        "redis-node"
    }

    async fn install(&self) -> Result<IoState<RedisNodeIoAdapter>, AdapterError> {
        let timeout = self.config.connect_timeout;
        let conn = tokio::time::timeout(timeout, Connection::open(&self.config))
            .await
            .map_err(|_| self.error(format!("no answer within {timeout:?}")))?
            .map_err(|e| self.error(e))?;
        let shared = Arc::new(Shared::new(
            conn,
            self.config.clone(),
            self.cluster.handlers.clone(),
            self.cluster.socket_data.clone(),
        ));
        if self.cluster.shared.set(shared.clone()).is_err() {
            return Err(AdapterError::new(
                "a RedisNodeAdapter can be installed in one app only",
            ));
        }
        tracing::info!(url = %self.config.redacted_url(), uid = shared.uid, "redis-node adapter connected");
        Ok(ClusterState(shared))
    }

    fn init_namespace(
        init: NamespaceInit<RedisNodeIoAdapter>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(async move {
            init.await
                .map_err(|e| AdapterError::new(format!("redis subscription failed: {e}")))
        })
    }

    async fn health(&self) -> Health {
        let Some(shared) = self.cluster.shared.get() else {
            return Health::Down("not connected yet".into());
        };
        match shared.conn.ping().await {
            Ok(()) => Health::Up,
            Err(e) => Health::Down(format!(
                "redis at {}: {e} ({} broadcasts delivered locally only)",
                self.config.redacted_url(),
                self.cluster.local_only_broadcasts()
            )),
        }
    }
}
