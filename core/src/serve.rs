//! Serving an [`App`]: a listener sized for connect bursts, `TCP_NODELAY`, peer addresses, shutdown.

use std::{future::Future, io, net::SocketAddr, time::Duration};

use axum::serve::ListenerExt;
use socketioxide::adapter::Adapter as IoAdapter;
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::App;

/// Listen backlog: the default (128) overflows under connect bursts and stalls handshakes.
const BACKLOG: i32 = 1024;

/// Binds a TCP listener with a backlog of 1024 and `SO_REUSEADDR`.
///
/// Port `0` picks a free port; read it back with `local_addr()`.
pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match bind_one(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
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
        () = interrupt => {}
        () = terminate => {}
    }
}

impl<S, A> App<S, A>
where
    S: Send + Sync + 'static,
    A: IoAdapter,
{
    /// Serves the app on `listener` until SIGINT or SIGTERM, then shuts down gracefully
    /// (see [`App::shutdown`]); a second signal exits the process at once.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, async {
            shutdown_signal().await;
            tokio::spawn(async {
                shutdown_signal().await;
                tracing::warn!("second signal: exiting without waiting");
                std::process::exit(130);
            });
        })
        .await
    }

    /// Serves the app on `listener` until `signal` resolves, then runs the shutdown hooks, closes
    /// every socket and returns.
    ///
    /// Accepted sockets get `TCP_NODELAY` (small writes are not held back) and their peer address
    /// reaches the connect stack.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let service = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, service).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        });
        let mut server = tokio::spawn(async move { server.await });
        tokio::select! {
            // The server only ends early on an accept-loop failure.
            result = &mut server => {
                return result.map_err(|e| io::Error::other(format!("server task failed: {e}")))?;
            }
            () = signal => {}
        }
        tracing::info!("shutting down");
        // Stop accepting first; the clients already connected are told and drained.
        let _ = stop_tx.send(());
        self.shutdown().await;
        match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
            Ok(result) => {
                result.map_err(|e| io::Error::other(format!("server task failed: {e}")))?
            }
            Err(_) => {
                tracing::warn!("connections still open after shutdown; closing them");
                server.abort();
                Ok(())
            }
        }
    }
}
