//! [`Held`]: a client's TCP stream, holding its connection slot and its place among the open
//! connections while it is open, and closed when the client stops reading.

use std::{
    future::Future,
    io,
    net::Shutdown,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::Sleep,
};

use super::open::{Conn, Entry, OpenConnections};

/// A connection with its slot under [`ServerLimits::max_connections`](super::ServerLimits) and
/// its [`ServerLimits::send_timeout`](super::ServerLimits::send_timeout).
///
/// The slot travels with the stream: a websocket upgrade hands the stream from hyper to
/// socket.io, and the slot is given back only when the websocket closes, not when HTTP ends. The
/// stream is shared with the server's [`OpenConnections`], which closes it at the shutdown if the
/// client keeps it open.
pub(super) struct Held {
    conn: Arc<Conn>,
    _open: Entry,
    _slot: OwnedSemaphorePermit,
    send_timeout: Duration,
    /// Runs while a write waits for the client to read; none while writes go through.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Held {
    pub(super) fn new(
        tcp: TcpStream,
        open: &OpenConnections,
        slot: OwnedSemaphorePermit,
        send_timeout: Duration,
    ) -> Self {
        let conn = Arc::new(Conn::new(tcp));
        Self {
            _open: open.enter(&conn),
            conn,
            _slot: slot,
            send_timeout,
            stalled: None,
        }
    }

    /// See [`TcpStream::set_nodelay`].
    pub(super) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.conn.tcp.set_nodelay(nodelay)
    }

    /// Passes a write's progress on; a write that waited `send_timeout` without progress closes
    /// the connection both ways, so that its reader ends too and socket.io closes the session.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        self.conn.wrote(written.is_ready());
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
        let peer = self.conn.tcp.peer_addr().ok();
        tracing::info!(
            ?peer,
            ?timeout,
            "closing a connection whose client stopped reading"
        );
        self.conn.shutdown(Shutdown::Both);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for the send timeout",
        )))
    }
}

/// Runs `io` once the stream is ready for it (`ready`), again after each spurious wake-up.
fn when_ready<T>(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    ready: fn(&TcpStream, &mut Context<'_>) -> Poll<io::Result<()>>,
    mut io: impl FnMut(&TcpStream) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        ready!(ready(tcp, cx))?;
        match io(tcp) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            done => return Poll::Ready(done),
        }
    }
}

impl AsyncRead for Held {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = ready!(when_ready(
            &self.conn.tcp,
            cx,
            TcpStream::poll_read_ready,
            |tcp| tcp.try_read(buf.initialize_unfilled()),
        ))?;
        buf.advance(read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = when_ready(&this.conn.tcp, cx, TcpStream::poll_write_ready, |tcp| {
            tcp.try_write(buf)
        });
        this.watch(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = when_ready(&this.conn.tcp, cx, TcpStream::poll_write_ready, |tcp| {
            tcp.try_write_vectored(bufs)
        });
        this.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&self.conn.tcp).shutdown(Shutdown::Write))
    }
}
