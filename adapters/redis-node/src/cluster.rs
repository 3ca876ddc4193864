//! What every namespace of one node shares: the Redis connection, this node's uid, the requests
//! waiting for responses, server-side event handlers and the aliases of Node socket ids.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use socketioxide_core::{Sid, Uid};
use tokio::sync::mpsc;

use crate::{
    RedisNodeConfig, ServerSideEvent, connection::Connection, error::Error, protocol::Decoded,
};

/// At most this many Node socket ids are remembered behind their [`Sid`] aliases.
const MAX_ALIASES: usize = 65_536;

pub(crate) type ServerSideHandler = Arc<dyn Fn(ServerSideEvent) + Send + Sync>;

/// Gives the `data` of a local socket (namespace, socket id) for Node's `fetchSockets`.
pub(crate) type SocketDataFn = Arc<dyn Fn(&str, &str) -> serde_json::Value + Send + Sync>;

/// The state shared by the namespaces of one node (socketioxide's adapter `State`).
pub(crate) struct Shared {
    pub(crate) conn: Arc<Connection>,
    /// This node's id on the wire (the Node adapter's `uid`).
    pub(crate) uid: String,
    pub(crate) config: RedisNodeConfig,
    /// The `server_id` given to sockets of other nodes in `fetch_sockets` results.
    pub(crate) remote_server: Uid,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Decoded>>>,
    pub(crate) handlers: Arc<Mutex<HashMap<String, ServerSideHandler>>>,
    pub(crate) socket_data: Arc<Mutex<Option<SocketDataFn>>>,
    aliases: Mutex<HashMap<Sid, String>>,
    pub(crate) local_only_broadcasts: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// Responses to one request, removed from the pending map when dropped.
pub(crate) struct PendingRequest {
    pub(crate) id: String,
    pub(crate) rx: mpsc::UnboundedReceiver<Decoded>,
    shared: Arc<Shared>,
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(
        conn: Arc<Connection>,
        config: RedisNodeConfig,
        handlers: Arc<Mutex<HashMap<String, ServerSideHandler>>>,
        socket_data: Arc<Mutex<Option<SocketDataFn>>>,
    ) -> Self {
        Self {
            conn,
            uid: Uid::new().to_string(),
            config,
            remote_server: Uid::new(),
            pending: Mutex::default(),
            handlers,
            socket_data,
            aliases: Mutex::default(),
            local_only_broadcasts: AtomicU64::new(0),
        }
    }

    /// Registers a request id whose responses go to the returned receiver.
    pub(crate) fn pending(self: &Arc<Self>) -> PendingRequest {
        let id = Sid::new().to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.pending).insert(id.clone(), tx);
        PendingRequest {
            id,
            rx,
            shared: self.clone(),
        }
    }

    /// Hands a response to the request waiting for it; unknown ids are other nodes' business.
    pub(crate) fn on_response(&self, response: Decoded) {
        let Some(id) = response.message.request_id.as_deref() else {
            return;
        };
        if let Some(tx) = lock(&self.pending).get(id) {
            let _ = tx.send(response);
        }
    }

    pub(crate) fn handler(&self, ns: &str) -> Option<ServerSideHandler> {
        lock(&self.handlers).get(ns).cloned()
    }

    /// The `data` Node's `fetchSockets` shows for local socket `id` of namespace `ns`.
    pub(crate) fn socket_data(&self, ns: &str, id: &str) -> serde_json::Value {
        let provider = lock(&self.socket_data).clone();
        provider.map_or_else(|| serde_json::json!({}), |f| f(ns, id))
    }

    /// A [`Sid`] standing for the socket id `id` of another node. iostack ids are already
    /// [`Sid`]s; Node's 20-character ids get a stable alias, remembered for [`Self::resolve`].
    pub(crate) fn alias(&self, id: &str) -> Sid {
        if let Ok(sid) = id.parse::<Sid>() {
            return sid;
        }
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut text = String::with_capacity(16);
        for round in 0u8..2 {
            let mut h = DefaultHasher::new();
            (round, id).hash(&mut h);
            let mut bits = h.finish();
            for _ in 0..8 {
                text.push(ALPHABET[(bits & 63) as usize] as char);
                bits >>= 6;
            }
        }
        let sid: Sid = text.parse().unwrap_or_default();
        let mut aliases = lock(&self.aliases);
        if aliases.len() >= MAX_ALIASES {
            aliases.clear();
        }
        aliases.insert(sid, id.to_owned());
        sid
    }

    /// The socket id `sid` stands for on its own node.
    pub(crate) fn resolve(&self, sid: Sid) -> String {
        lock(&self.aliases)
            .get(&sid)
            .cloned()
            .unwrap_or_else(|| sid.to_string())
    }

    pub(crate) async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), Error> {
        self.conn
            .publish(channel, payload)
            .await
            .map_err(|e| Error::redis("PUBLISH", e))
    }

    /// How many other nodes serve namespace requests on `request_channel`.
    pub(crate) async fn other_nodes(&self, request_channel: &str) -> Result<usize, Error> {
        let count = self
            .conn
            .subscribers(request_channel)
            .await
            .map_err(|e| Error::redis("PUBSUB NUMSUB", e))?;
        Ok(usize::from(count).saturating_sub(1))
    }

    /// Waits for `expected` responses to `request`, at most the request timeout.
    pub(crate) async fn collect(
        &self,
        mut request: PendingRequest,
        expected: usize,
        what: &'static str,
    ) -> Result<Vec<Decoded>, Error> {
        let timeout = self.config.request_timeout;
        let mut responses = Vec::with_capacity(expected);
        let deadline = tokio::time::Instant::now() + timeout;
        while responses.len() < expected {
            match tokio::time::timeout_at(deadline, request.rx.recv()).await {
                Ok(Some(r)) => responses.push(r),
                Ok(None) => break,
                Err(_) => {
                    return Err(Error::Timeout {
                        what,
                        got: responses.len(),
                        expected,
                        after: timeout,
                    });
                }
            }
        }
        Ok(responses)
    }

    pub(crate) fn count_local_only(&self) -> u64 {
        self.local_only_broadcasts.fetch_add(1, Ordering::Relaxed) + 1
    }
}
