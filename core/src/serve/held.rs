//! [`Held`]: a client's TCP stream, holding its connection slot and its place among the open
//! connections while it is open, and closed when the client stops reading or the server asks.

use std::{
    future::Future,
    io,
    net::Shutdown,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::Sleep,
};

use super::open::{Asked, Conn, Entry, OpenConnections};

/// A connection with its slot under [`ServerLimits::max_connections`](super::ServerLimits) and
/// its [`ServerLimits::send_timeout`](super::ServerLimits::send_timeout).
///
/// The slot travels with the stream: a websocket upgrade hands the stream from hyper to
/// socket.io, and the slot is given back only when the websocket closes, not when HTTP ends. The
/// server's [`OpenConnections`] sees how its writes go and may ask it to shut down (at the
/// shutdown, if its client keeps it open or stopped reading); its reader does so.
pub(super) struct Held {
    tcp: TcpStream,
    conn: Arc<Conn>,
    /// The shutdown already made, as the server asked.
    shut: Asked,
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
        let conn = Arc::new(Conn::default());
        Self {
            tcp,
            _open: open.enter(&conn),
            conn,
            shut: Asked::Nothing,
            _slot: slot,
            send_timeout,
            stalled: None,
        }
    }

    /// What the connection shares with the server's [`OpenConnections`].
    pub(super) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// See [`TcpStream::set_nodelay`].
    pub(super) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.tcp.set_nodelay(nodelay)
    }

    /// Makes the shutdown the server asked for, once.
    fn shut_as_asked(&mut self) {
        let asked = self.conn.asked();
        if asked > self.shut {
            self.shut = asked;
            if let Some(how) = asked.shutdown() {
                self.shutdown(how);
            }
        }
    }

    fn shutdown(&self, how: Shutdown) {
        if let Err(e) = socket2::SockRef::from(&self.tcp).shutdown(how) {
            tracing::debug!("cannot shut the connection down: {e}");
        }
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
        let peer = self.tcp.peer_addr().ok();
        tracing::info!(
            ?peer,
            ?timeout,
            "closing a connection whose client stopped reading"
        );
        self.shutdown(Shutdown::Both);
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
        let this = self.get_mut();
        this.shut_as_asked();
        let read = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if read.is_pending() {
            this.conn.wake_on_ask(cx.waker());
            // Asked between the check above and the registration: read again at once.
            if this.conn.asked() > this.shut {
                cx.waker().wake_by_ref();
            }
        }
        read
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

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
        sync::Semaphore,
    };

    use super::*;

    /// A server's end of a connection entered in `open`, being read as socket.io's reader does,
    /// what it shares with `open`, and its client's end.
    async fn connection(
        listener: &TcpListener,
        open: &OpenConnections,
    ) -> (tokio::task::JoinHandle<Held>, Arc<Conn>, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let slot = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        let tcp = listener.accept().await.unwrap().0;
        let mut held = Held::new(tcp, open, slot, Duration::from_secs(600));
        held.write_all(b"hello").await.unwrap();
        let conn = held.conn.clone();
        let reader = tokio::spawn(async move {
            let mut byte = [0; 1];
            while held.read(&mut byte).await.unwrap() > 0 {}
            held
        });
        (reader, conn, client)
    }

    async fn read_to_end(client: &mut TcpStream) -> Vec<u8> {
        let mut read = Vec::new();
        client.read_to_end(&mut read).await.unwrap();
        read
    }

    #[tokio::test]
    async fn idle_connections_end_after_what_they_were_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = OpenConnections::default();
        let (reader, _, mut client) = connection(&listener, &open).await;
        let (gone, _, _gone_client) = connection(&listener, &open).await;
        // A connection that closed before the shutdown is not counted.
        gone.abort();
        let _ = gone.await;

        assert_eq!(open.close_all(Duration::from_secs(5)).await, 1);
        assert_eq!(read_to_end(&mut client).await, b"hello");
        // The client closes its end; the server's reader sees it.
        drop(client);
        reader.await.unwrap();
    }

    #[tokio::test]
    async fn only_stalled_connections_are_closed_both_ways() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = OpenConnections::default();
        let (_reader, idle, mut idle_client) = connection(&listener, &open).await;
        let stalled = Arc::new(Conn::default());
        let _stalled_entry = open.enter(&stalled);
        stalled.wrote(false);

        open.clone().close_stalled().await;
        assert_eq!(stalled.asked(), Asked::Both);
        assert_eq!(idle.asked(), Asked::Nothing);
        open.close_all(Duration::from_secs(5)).await;
        assert_eq!(read_to_end(&mut idle_client).await, b"hello");
    }
}
