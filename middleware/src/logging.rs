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
//!
//! Whatever the sink, the layer also logs the lines of the Strapi io plugin's logging hooks, at
//! `info`: `Connection attempt: {"socketId","ip","userAgent","timestamp"}` (ISO 8601 UTC) when an
//! attempt starts, and `Session ended: <socket id> (<ms>ms)` when an admitted socket disconnects.

use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use iostack_core::{BoxError, BoxFuture, ConnectRequest};
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

impl<S> Service<ConnectRequest> for ConnectionLog<S>
where
    S: Service<ConnectRequest, Response = ConnectRequest> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = ConnectRequest;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<ConnectRequest, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: ConnectRequest) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sink = self.sink.clone();
        log_attempt(&req);
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
                        let ms = record.duration.map(|d| d.as_millis()).unwrap_or(0);
                        tracing::info!(
                            socket.id = %record.socket_id, ns = %record.ns, duration_ms = ms as u64,
                            "Session ended: {} ({ms}ms)", record.socket_id
                        );
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

/// Logs `Connection attempt: {"socketId","ip","userAgent","timestamp"}`, as the plugin's page does.
fn log_attempt(req: &ConnectRequest) {
    let line = serde_json::json!({
        "socketId": req.socket().id.to_string(),
        "ip": req.peer().map(|p| p.ip().to_string()),
        "userAgent": req.user_agent(),
        "timestamp": iso8601(SystemTime::now()),
    });
    tracing::info!(socket.id = %req.socket().id, ns = req.ns(), "Connection attempt: {line}");
}

/// `t` as ISO 8601 in UTC with milliseconds (`2024-05-01T12:00:00.000Z`), like JS `toISOString()`.
fn iso8601(t: SystemTime) -> String {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn iso8601_matches_javascript_to_iso_string() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // new Date(951782400123).toISOString(): a leap day.
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        // new Date(1735689599999).toISOString()
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_millis(1_735_689_599_999)),
            "2024-12-31T23:59:59.999Z"
        );
    }
}
