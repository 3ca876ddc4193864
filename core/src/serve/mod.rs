//! Serving an [`App`]: a listener sized for connect bursts, connections within [`ServerLimits`],
//! peer addresses, shutdown.

mod accept;
mod head;
mod held;
mod limits;
mod open;
mod sessions;

use std::{future::Future, io, net::SocketAddr};

use futures_util::FutureExt;
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::App;

pub(crate) use head::detach_head;
pub use limits::ServerLimits;
pub(crate) use sessions::{ConnOf, SessionConnections};

/// Listen backlog: the default (128) overflows under connect bursts and stalls handshakes.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Binds a TCP listener with a backlog of [`DEFAULT_BACKLOG`] (1024) and `SO_REUSEADDR`.
///
/// Port `0` picks a free port; read it back with `local_addr()`.
pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    bind_with_backlog(addr, DEFAULT_BACKLOG).await
}

/// Binds like [`bind`] with another listen backlog: how many connections the kernel queues
/// before the server accepts them (connections past [`ServerLimits::max_connections`] wait there).
pub async fn bind_with_backlog(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<TcpListener> {
    let backlog = i32::try_from(backlog.max(1)).unwrap_or(i32::MAX);
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match bind_one(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
}

fn bind_one(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    TcpListener::from_std(socket.into())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    received_signal().await;
}

/// Waits for SIGINT or SIGTERM and names the one that came.
async fn received_signal() -> &'static str {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

/// What [`App::serve`] returns when a second signal arrives during the graceful shutdown: the
/// server stopped without waiting for the drain. Binaries usually exit with status 130 then.
#[derive(Debug, thiserror::Error)]
#[error("a second signal arrived during shutdown: stopped without waiting")]
pub struct InterruptedShutdown;

impl<S> App<S>
where
    S: Send + Sync + 'static,
{
    /// Serves the app on `listener` until SIGINT or SIGTERM, then shuts down gracefully
    /// (see [`App::shutdown`]).
    ///
    /// A second signal during the shutdown stops waiting: `serve` returns an
    /// [`io::ErrorKind::Interrupted`] error wrapping [`InterruptedShutdown`], and the binary
    /// chooses its exit code.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
        let graceful = self.serve_with_shutdown(listener, async move {
            let signal = received_signal().await;
            tracing::info!("[io] Received {signal}, closing connections...");
            let _ = first_tx.send(());
        });
        let second = async move {
            if first_rx.await.is_err() {
                return std::future::pending().await;
            }
            received_signal().await;
            tracing::warn!("second signal: stopping without waiting");
        };
        tokio::select! {
            result = graceful => result,
            () = second => Err(io::Error::new(io::ErrorKind::Interrupted, InterruptedShutdown)),
        }
    }

    /// Serves the app on `listener` until `signal` resolves, then shuts down gracefully (see
    /// [`App::shutdown`]) while still answering HTTP, so that long-polling clients collect the
    /// shutdown notice and their disconnect; then stops accepting, closes the connections still
    /// open and returns.
    ///
    /// Clients still reading what they were sent get up to 5 s more to take it; then every
    /// connection ends, including the websockets of clients that keep their Engine.IO session
    /// open after socket.io's disconnect, so that no session outlives the server.
    ///
    /// Connections are served within the app's [`ServerLimits`] (header and body timeouts, a cap
    /// on open connections, `TCP_NODELAY`); their peer address reaches the connect stack.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let open = open::OpenConnections::default();
        let accept = accept::run(
            listener,
            self.router(),
            self.limits.clone(),
            open.clone(),
            self.io().deliveries().sessions().cloned(),
            stop_rx,
        );
        let mut server = tokio::spawn(accept);
        tokio::select! {
            // The server only ends early on an accept-loop failure.
            result = &mut server => {
                return result.map_err(|e| io::Error::other(format!("server task failed: {e}")))?;
            }
            () = signal => {}
        }
        tracing::info!("shutting down");
        // HTTP keeps answering during the shutdown: polling clients need a request to collect the
        // notice and their disconnect packet. Accepting stops once every socket is closed.
        self.shutdown_closing(Some(&|| open.clone().close_stalled().boxed()))
            .await;
        let _ = stop_tx.send(true);
        server
            .await
            .map_err(|e| io::Error::other(format!("server task failed: {e}")))?
    }
}
