//! Graceful shutdown: tell the clients, let messages drain, run the hooks, disconnect, close.

use std::time::Duration;

use socketioxide::SocketError;
use tokio::time::Instant;

use crate::{App, extract::SocketRef};

/// The event every connected client receives when the server starts shutting down:
/// `{"message": String, "reconnectIn": milliseconds}`.
pub const SHUTDOWN_EVENT: &str = "server:shutdown";

/// How often the shutdown offers a disconnect packet again to sockets whose buffer was full.
const DISCONNECT_RETRY: Duration = Duration::from_millis(50);

/// How the server shuts down; set with [`AppBuilder::shutdown`](crate::AppBuilder::shutdown).
#[derive(Debug, Clone)]
pub struct ShutdownOptions {
    message: String,
    reconnect_in: Duration,
    drain: Duration,
}

impl Default for ShutdownOptions {
    fn default() -> Self {
        Self {
            message: "Server is shutting down".into(),
            reconnect_in: Duration::from_secs(5),
            drain: Duration::from_secs(1),
        }
    }
}

impl ShutdownOptions {
    /// The defaults: message `Server is shutting down`, `reconnectIn` 5 s, drain 1 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// The message clients receive.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The delay after which clients are told to reconnect.
    pub fn reconnect_in(mut self, delay: Duration) -> Self {
        self.reconnect_in = delay;
        self
    }

    /// How long the server waits, at most, for outgoing messages and for clients to leave on their
    /// own before it disconnects them.
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }
}

impl<S> App<S>
where
    S: Send + Sync + 'static,
{
    /// Shuts the server down: every client of this node receives [`SHUTDOWN_EVENT`]; the server
    /// waits up to the drain time (less if every client leaves), runs the `on_shutdown` hooks,
    /// disconnects every socket (running the disconnect bookkeeping and hooks), runs the
    /// `on_stopped` hooks (flushing logs, freeing seats), then closes.
    ///
    /// Each step after the drain waits at most the drain time or 5 s, whichever is longer. A
    /// socket whose outgoing buffer is full is offered its disconnect packet again every 50 ms
    /// while its client reads; if it never takes it, its transport is closed in the last step,
    /// and the connection of a client that stopped reading is closed at the send timeout
    /// ([`ServerLimits::send_timeout`](crate::ServerLimits::send_timeout)).
    ///
    /// Safe to call when the adapter's store is already gone: remote failures are logged.
    pub async fn shutdown(&self) {
        let options = self.shutdown_options();
        // How long each step after the drain may take: disconnect bookkeeping, the `on_stopped`
        // hooks, closing the transports.
        let bound = options.drain.max(Duration::from_secs(5));
        let notice = serde_json::json!({
            "message": options.message,
            "reconnectIn": options.reconnect_in.as_millis() as u64,
        });
        for ns in self.io().socketio().nsps() {
            let path = ns.ns_path().to_owned();
            if let Err(e) = ns.local().emit(SHUTDOWN_EVENT, &notice).await {
                tracing::warn!(ns = path, "shutdown notice not sent: {e}");
            }
        }
        self.wait_for_no_connections(options.drain).await;

        for hook in self.hooks().iter() {
            hook.on_shutdown(self.io()).await;
        }
        let sockets = self.io().sockets();
        let closed = sockets.len();
        let deadline = Instant::now() + bound;
        // A socket whose outgoing buffer is full refuses its disconnect packet: try again while
        // its client reads, until the deadline.
        let mut refused = disconnect(sockets);
        while !refused.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(DISCONNECT_RETRY).await;
            refused = disconnect(refused);
        }
        // Disconnect bookkeeping (hooks, connection-log records) runs in each socket's own task:
        // wait for it, bounded, so that the `on_stopped` hooks below see every record.
        let _ = tokio::time::timeout_at(deadline, self.io().registry().wait_until_empty()).await;
        tracing::info!("[io] Closed {closed} connections");
        let stopped = async {
            for hook in self.hooks().iter() {
                hook.on_stopped(self.io()).await;
            }
        };
        if tokio::time::timeout(bound, stopped).await.is_err() {
            tracing::warn!("on_stopped hooks did not finish within the drain time");
        }
        // Closing waits for each transport's writer, and the writer to a client that stopped
        // reading waits until the send timeout (`ServerLimits::send_timeout`) ends it.
        if tokio::time::timeout(bound, self.io().socketio().close())
            .await
            .is_err()
        {
            tracing::warn!(
                "some connections were still closing after the drain time; \
                 their clients stopped reading and the send timeout will close them"
            );
        }
        self.stop_background_tasks();
        tracing::info!("shutdown complete");
    }

    async fn wait_for_no_connections(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.io().registry().wait_until_empty()).await;
    }
}

/// Sends each socket its disconnect packet and closes it; returns those whose full buffer refused
/// the packet, still connected.
fn disconnect(sockets: Vec<SocketRef>) -> Vec<SocketRef> {
    sockets
        .into_iter()
        .filter(|socket| {
            matches!(
                socket.clone().disconnect(),
                Err(SocketError::InternalChannelFull)
            )
        })
        .collect()
}
