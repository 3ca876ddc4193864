//! Connection logging for the connect stack: one record per attempt, one per finished session.
//!
//! ```
//! use iostack_core::App;
//! use iostack_middleware::logging::{ConnectionLogLayer, ConnectionRecord, ConnectionSink};
//!
//! /// Keeps records somewhere else than the logs (a database, a queue...).
//! struct Audit;
//!
//! impl ConnectionSink for Audit {
//!     fn on_attempt(&self, record: &ConnectionRecord) { /* store it */ }
//!     fn on_disconnect(&self, record: &ConnectionRecord) { /* update it */ }
//! }
//!
//! let builder = App::builder(()).on_connect(ConnectionLogLayer::new().sink(Audit));
//! ```
//!
//! Put it outside (before) the authentication layer: it sees every attempt, the refused ones with
//! the reason the client read, and the admitted ones with their user. The default sink writes a
//! `tracing` event per record.

use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use iostack_core::{
    BoxError, BoxFuture, ConnectRequest, socketioxide::adapter::Adapter as IoAdapter,
};
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// The socket was admitted.
    Admitted,
    /// The connect stack refused it; the text is what the client read.
    Rejected(String),
}

/// One connection attempt or session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionRecord {
    /// The socket id (an Engine.IO session id: treat it as a credential).
    pub socket_id: String,
    /// The namespace.
    pub ns: String,
    /// The TCP peer.
    pub peer: Option<SocketAddr>,
    /// The handshake's `User-Agent`.
    pub user_agent: Option<String>,
    /// The authenticated user, when admitted with an identity.
    pub user_id: Option<String>,
    /// When the attempt was made.
    pub connected_at: SystemTime,
    /// When the session ended (disconnect records only).
    pub disconnected_at: Option<SystemTime>,
    /// How long the session lasted (disconnect records only).
    pub duration: Option<Duration>,
    /// Why the session ended (disconnect records only).
    pub disconnect_reason: Option<String>,
    /// How the attempt ended.
    pub outcome: Outcome,
}

/// Where connection records go. Both methods are called from the connection's task: keep them quick
/// (hand slow work to a channel or a spawned task).
pub trait ConnectionSink: Send + Sync + 'static {
    /// Called once per attempt, admitted or refused.
    fn on_attempt(&self, record: &ConnectionRecord);
    /// Called when an admitted socket disconnects, with `disconnected_at`, `duration` and the reason.
    fn on_disconnect(&self, record: &ConnectionRecord);
}

/// The default sink: one `tracing` event per record.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl ConnectionSink for TracingSink {
    fn on_attempt(&self, r: &ConnectionRecord) {
        let peer = r.peer.map(|p| p.ip());
        match &r.outcome {
            Outcome::Admitted => tracing::info!(
                socket.id = %r.socket_id, ns = %r.ns, ?peer, user_agent = ?r.user_agent,
                user = ?r.user_id, at = ?r.connected_at, "connection admitted"
            ),
            Outcome::Rejected(reason) => tracing::warn!(
                socket.id = %r.socket_id, ns = %r.ns, ?peer, user_agent = ?r.user_agent,
                at = ?r.connected_at, %reason, "connection rejected"
            ),
        }
    }

    fn on_disconnect(&self, r: &ConnectionRecord) {
        tracing::info!(
            socket.id = %r.socket_id, ns = %r.ns, peer = ?r.peer.map(|p| p.ip()), user = ?r.user_id,
            duration_ms = r.duration.map(|d| d.as_millis() as u64), reason = ?r.disconnect_reason,
            "connection closed"
        );
    }
}

/// Records every connection attempt and session into a [`ConnectionSink`] ([`TracingSink`] by default).
#[derive(Clone)]
pub struct ConnectionLogLayer {
    sink: Arc<dyn ConnectionSink>,
}

impl std::fmt::Debug for ConnectionLogLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLogLayer").finish_non_exhaustive()
    }
}

impl Default for ConnectionLogLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionLogLayer {
    /// Logs to `tracing`.
    pub fn new() -> Self {
        Self {
            sink: Arc::new(TracingSink),
        }
    }

    /// Sends the records to `sink` instead.
    pub fn sink(mut self, sink: impl ConnectionSink) -> Self {
        self.sink = Arc::new(sink);
        self
    }
}

impl<S> Layer<S> for ConnectionLogLayer {
    type Service = ConnectionLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectionLog {
            inner,
            sink: self.sink.clone(),
        }
    }
}

/// The service of [`ConnectionLogLayer`].
#[derive(Clone)]
pub struct ConnectionLog<S> {
    inner: S,
    sink: Arc<dyn ConnectionSink>,
}

impl<S, A> Service<ConnectRequest<A>> for ConnectionLog<S>
where
    A: IoAdapter,
    S: Service<ConnectRequest<A>, Response = ConnectRequest<A>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = ConnectRequest<A>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<ConnectRequest<A>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: ConnectRequest<A>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sink = self.sink.clone();
        let mut record = ConnectionRecord {
            socket_id: req.socket().id.to_string(),
            ns: req.ns().to_owned(),
            peer: req.peer(),
            user_agent: req.user_agent().map(str::to_owned),
            user_id: None,
            connected_at: SystemTime::now(),
            disconnected_at: None,
            duration: None,
            disconnect_reason: None,
            outcome: Outcome::Admitted,
        };
        Box::pin(async move {
            match inner.call(req).await.map_err(Into::into) {
                Ok(mut req) => {
                    record.user_id = req.identity().map(|i| i.id.clone());
                    sink.on_attempt(&record);
                    req.on_disconnect(move |_, reason| {
                        let now = SystemTime::now();
                        record.disconnected_at = Some(now);
                        record.duration = now.duration_since(record.connected_at).ok();
                        record.disconnect_reason = Some(reason.to_string());
                        sink.on_disconnect(&record);
                    });
                    Ok(req)
                }
                Err(e) => {
                    record.outcome = Outcome::Rejected(e.to_string());
                    sink.on_attempt(&record);
                    Err(e)
                }
            }
        })
    }
}
