//! [`NodeCluster`]: what socketioxide has no API for — `serverSideEmit` both ways, and the full
//! description (rooms, handshake, `data`) of the other nodes' sockets.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use serde_json::{Value as Json, json};

use crate::{
    cluster::{ServerSideHandler, Shared, SocketDataFn},
    error::Error,
    protocol::{Channels, RequestType, json_bytes, opts_json},
};

/// An event another node sent with `io.serverSideEmit(event, ...args)` (or the redis-emitter's
/// `serverSideEmit`).
#[derive(Debug)]
pub struct ServerSideEvent {
    /// The namespace it was emitted in.
    pub ns: String,
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub args: Vec<Json>,
    /// Present when the sender waits for an answer (`serverSideEmitWithAck`).
    pub ack: Option<ServerSideAck>,
}

/// The answer to a [`ServerSideEvent`] whose sender waits for one.
#[derive(Debug)]
pub struct ServerSideAck {
    pub(crate) shared: Arc<Shared>,
    pub(crate) channel: String,
    pub(crate) request_id: String,
}

impl ServerSideAck {
    /// Sends `value` back to the sender (in the background: a handler need not be async).
    pub fn send(self, value: Json) {
        let body = json!({
            "type": RequestType::ServerSideEmit as u8,
            "requestId": self.request_id,
            "data": value,
        });
        tokio::spawn(async move {
            if let Err(e) = self.shared.publish(&self.channel, json_bytes(&body)).await {
                tracing::warn!("server-side acknowledgement lost: {e}");
            }
        });
    }
}

/// A handle on the cluster for what socketioxide's API does not cover; get it with
/// [`RedisNodeAdapter::cluster`](crate::RedisNodeAdapter::cluster) before building the app.
#[derive(Clone, Default)]
pub struct NodeCluster {
    pub(crate) shared: Arc<OnceLock<Arc<Shared>>>,
    pub(crate) handlers: Arc<Mutex<HashMap<String, ServerSideHandler>>>,
    pub(crate) socket_data: Arc<Mutex<Option<SocketDataFn>>>,
}

impl std::fmt::Debug for NodeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCluster")
            .field("installed", &self.shared.get().is_some())
            .finish_non_exhaustive()
    }
}

impl NodeCluster {
    fn shared(&self, ns: &str) -> Result<&Arc<Shared>, Error> {
        self.shared
            .get()
            .ok_or_else(|| Error::NotInstalled(ns.to_owned()))
    }

    fn channels(shared: &Shared, ns: &str) -> Channels {
        Channels::new(&shared.config.key, ns, &shared.uid)
    }

    /// Calls `handler` for every server-side event other nodes emit in namespace `ns`
    /// (the JS `io.of(ns).on(event, ...)` of server-side emits). One handler per namespace.
    pub fn on_server_side_emit(
        &self,
        ns: impl Into<String>,
        handler: impl Fn(ServerSideEvent) + Send + Sync + 'static,
    ) {
        self.handlers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ns.into(), Arc::new(handler));
    }

    /// Fills the `data` other nodes see for this node's sockets in `fetchSockets` (the JS
    /// `socket.data`), from the namespace and socket id; `{}` without one. socketioxide keeps
    /// sockets out of the adapter's reach, so the app looks them up itself:
    ///
    /// ```no_run
    /// # fn run(cluster: iostack_redis_node::NodeCluster, io: iostack_core::Io) {
    /// cluster.socket_data(move |ns, id| {
    ///     let conn = io.connections().into_iter().find(|c| c.ns == ns && c.id == id);
    ///     serde_json::json!({ "userId": conn.and_then(|c| c.identity).map(|i| i.id.clone()) })
    /// });
    /// # }
    /// ```
    pub fn socket_data(&self, provider: impl Fn(&str, &str) -> Json + Send + Sync + 'static) {
        *self.socket_data.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(provider));
    }

    /// `io.of(ns).serverSideEmit(event, ...args)`: every other node of the namespace gets it.
    pub async fn server_side_emit(
        &self,
        ns: &str,
        event: &str,
        args: Vec<Json>,
    ) -> Result<(), Error> {
        let shared = self.shared(ns)?;
        let mut data = vec![Json::from(event)];
        data.extend(args);
        let body =
            json!({ "uid": shared.uid, "type": RequestType::ServerSideEmit as u8, "data": data });
        shared
            .publish(&Self::channels(shared, ns).request, json_bytes(&body))
            .await
    }

    /// `serverSideEmitWithAck`: one answer per other node, or [`Error::Timeout`] after the
    /// request timeout.
    pub async fn server_side_emit_with_ack(
        &self,
        ns: &str,
        event: &str,
        args: Vec<Json>,
    ) -> Result<Vec<Json>, Error> {
        let shared = self.shared(ns)?;
        let channels = Self::channels(shared, ns);
        let expected = shared.other_nodes(&channels.request).await?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let pending = shared.pending();
        let mut data = vec![Json::from(event)];
        data.extend(args);
        let body = json!({
            "uid": shared.uid,
            "requestId": pending.id,
            "type": RequestType::ServerSideEmit as u8,
            "data": data,
        });
        shared.publish(&channels.request, json_bytes(&body)).await?;
        let responses = shared.collect(pending, expected, "serverSideEmit").await?;
        Ok(responses
            .into_iter()
            .map(|r| r.message.data.unwrap_or(Json::Null))
            .collect())
    }

    /// The sockets of the *other* nodes in namespace `ns` that are in any of `rooms` (all when
    /// empty), as Node's `fetchSockets` describes them: `{id, rooms, handshake, data}`.
    pub async fn fetch_remote_sockets(&self, ns: &str, rooms: &[&str]) -> Result<Vec<Json>, Error> {
        let shared = self.shared(ns)?;
        let channels = Self::channels(shared, ns);
        let expected = shared.other_nodes(&channels.request).await?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let pending = shared.pending();
        let rooms: Vec<std::borrow::Cow<'_, str>> = rooms.iter().map(|r| (*r).into()).collect();
        let body = json!({
            "uid": shared.uid,
            "requestId": pending.id,
            "type": RequestType::RemoteFetch as u8,
            "opts": opts_json(&rooms, &[]),
        });
        shared.publish(&channels.request, json_bytes(&body)).await?;
        let responses = shared.collect(pending, expected, "fetchSockets").await?;
        Ok(responses
            .into_iter()
            .flat_map(|r| r.message.sockets.unwrap_or_default())
            .collect())
    }

    /// How many nodes (Node or iostack, this one included) serve namespace `ns`.
    pub async fn server_count(&self, ns: &str) -> Result<usize, Error> {
        let shared = self.shared(ns)?;
        Ok(shared
            .other_nodes(&Self::channels(shared, ns).request)
            .await?
            + 1)
    }

    /// Broadcasts delivered to this node only because Redis could not be reached.
    pub fn local_only_broadcasts(&self) -> u64 {
        self.shared.get().map_or(0, |s| {
            s.local_only_broadcasts
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }
}
