//! Graceful shutdown: tell the clients, let messages drain, run the hooks, disconnect, close.

use std::time::Duration;

use futures_util::future::BoxFuture;
use socketioxide::{SendError, SocketError};
use tokio::time::Instant;

use crate::{App, delivery::offer_again_until, extract::SocketRef};

/// The event every connected client receives when the server starts shutting down:
/// `{"message": String, "reconnectIn": milliseconds}`.
pub const SHUTDOWN_EVENT: &str = "server:shutdown";

/// Closes the connections of clients that stopped reading (given by the server serving the app).
pub(crate) type CloseStalled<'a> = dyn Fn() -> BoxFuture<'static, ()> + Sync + 'a;

/// How often the shutdown offers its notice or disconnect packet again to sockets whose buffer
/// was full.
const RETRY: Duration = Duration::from_millis(50);

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
    /// socket whose outgoing buffer is full is offered the notice (during the drain) and its
    /// disconnect packet again every 50 ms while its client reads; a notice never taken is
    /// counted in [`Io::deliveries`](crate::Io::deliveries). If a socket never takes its
    /// disconnect packet, its client stopped reading: [`App::serve`] closes its connection after
    /// the disconnect step's bound, so that its bookkeeping runs before the `on_stopped` hooks
    /// (behind another server, its transport is closed in the last step, and its connection at
    /// the send timeout, [`ServerLimits::send_timeout`](crate::ServerLimits::send_timeout)).
    ///
    /// Safe to call when the adapter's store is already gone: remote failures are logged.
    pub async fn shutdown(&self) {
        self.shutdown_closing(None).await;
    }

    /// [`App::shutdown`], with a way to close the connections of clients that stopped reading:
    /// used when a socket's disconnect bookkeeping has not run after the disconnect step's bound,
    /// so that it runs before the `on_stopped` hooks rather than at the send timeout.
    pub(crate) async fn shutdown_closing(&self, close_stalled: Option<&CloseStalled<'_>>) {
        let options = self.shutdown_options();
        self.notify_and_drain(options).await;
        for hook in self.hooks().iter() {
            hook.on_shutdown(self.io()).await;
        }
        // How long each step after the drain may take.
        let bound = options.drain.max(Duration::from_secs(5));
        self.disconnect_all(bound, close_stalled).await;
        let stopped = async {
            for hook in self.hooks().iter() {
                hook.on_stopped(self.io()).await;
            }
        };
        if tokio::time::timeout(bound, stopped).await.is_err() {
            tracing::warn!("on_stopped hooks did not finish within the drain time");
        }
        // Closing waits for each transport's writer, and the writer to a client that stopped
        // reading waits until its connection is closed (by `App::serve` above, or at the send
        // timeout, `ServerLimits::send_timeout`).
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

    /// Sends every socket of this node the notice, then waits up to the drain time for the
    /// clients to leave.
    async fn notify_and_drain(&self, options: &ShutdownOptions) {
        let notice = serde_json::json!({
            "message": options.message,
            "reconnectIn": options.reconnect_in.as_millis() as u64,
        });
        let drained = Instant::now() + options.drain;
        let refused = until_taken(self.io().sockets(), drained, |socket| {
            matches!(
                socket.emit(SHUTDOWN_EVENT, &notice),
                Err(SendError::Socket(SocketError::InternalChannelFull))
            )
        })
        .await;
        for socket in refused {
            self.io().deliveries().add(socket.ns(), 1);
        }
        let _ = tokio::time::timeout_at(drained, self.io().registry().wait_until_empty()).await;
    }

    /// Disconnects every socket of this node, then waits (at most `bound`) for their disconnect
    /// bookkeeping (hooks, connection-log records), which runs in each socket's own task, so that
    /// the `on_stopped` hooks see every record. If some is still missing then, `close_stalled`
    /// ends the sessions of clients that stopped reading, and the wait goes on (at most `bound`).
    async fn disconnect_all(&self, bound: Duration, close_stalled: Option<&CloseStalled<'_>>) {
        let sockets = self.io().sockets();
        let closed = sockets.len();
        let deadline = Instant::now() + bound;
        until_taken(sockets, deadline, |socket| {
            matches!(
                socket.clone().disconnect(),
                Err(SocketError::InternalChannelFull)
            )
        })
        .await;
        let registry = self.io().registry();
        let done = tokio::time::timeout_at(deadline, registry.wait_until_empty()).await;
        if let (Err(_), Some(close_stalled)) = (done, close_stalled) {
            tracing::info!("closing the connections of clients that stopped reading");
            close_stalled().await;
            let _ = tokio::time::timeout(bound, registry.wait_until_empty()).await;
        }
        tracing::info!("[io] Closed {closed} connections");
    }
}

/// Offers each socket a packet with `refused_as_full` (true when the socket's full buffer refused
/// it): at once, then every 50 ms to the sockets that refused, while their clients read, until
/// `deadline`. Returns the sockets that still refused.
async fn until_taken(
    mut sockets: Vec<SocketRef>,
    deadline: Instant,
    refused_as_full: impl Fn(&SocketRef) -> bool,
) -> Vec<SocketRef> {
    sockets.retain(&refused_as_full);
    offer_again_until(sockets, deadline, RETRY, refused_as_full).await
}
