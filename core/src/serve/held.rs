//! [`Held`]: a client's TCP stream, holding its connection slot while it is open and closed when
//! the client stops reading.

use std::{
    future::Future,
    io,
    net::Shutdown,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::Sleep,
};

/// A connection with its slot under [`ServerLimits::max_connections`](super::ServerLimits) and
/// its [`ServerLimits::send_timeout`](super::ServerLimits::send_timeout).
///
/// The slot travels with the stream: a websocket upgrade hands the stream from hyper to
/// socket.io, and the slot is given back only when the websocket closes, not when HTTP ends.
pub(super) struct Held {
    tcp: TcpStream,
    _slot: OwnedSemaphorePermit,
    send_timeout: Duration,
    /// Runs while a write waits for the client to read; none while writes go through.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Held {
    pub(super) fn new(tcp: TcpStream, slot: OwnedSemaphorePermit, send_timeout: Duration) -> Self {
        Self {
            tcp,
            _slot: slot,
            send_timeout,
            stalled: None,
        }
    }

    /// See [`TcpStream::set_nodelay`].
    pub(super) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.tcp.set_nodelay(nodelay)
    }

    /// Passes a write's progress on; a write that waited `send_timeout` without progress closes
    /// the connection both ways, so that its reader ends too and socket.io closes the session.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let timeout = self.send_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.stalled = None;
        let peer = self.tcp.peer_addr().ok();
        tracing::info!(
            ?peer,
            ?timeout,
            "closing a connection whose client stopped reading"
        );
        if let Err(e) = socket2::SockRef::from(&self.tcp).shutdown(Shutdown::Both) {
            tracing::debug!("cannot shut the connection down: {e}");
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for the send timeout",
        )))
    }
}

impl AsyncRead for Held {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.watch(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
