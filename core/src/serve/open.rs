//! [`OpenConnections`]: the TCP connections a server has open and how their writes go, so that
//! its shutdown can close those that clients keep open or stopped reading, after the clients that
//! still read got what they were sent.

use std::{
    collections::HashMap,
    net::Shutdown,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio::{net::TcpStream, time::Instant};

/// How long the server watches a connection's writes to tell how it goes.
const SAMPLE: Duration = Duration::from_millis(100);

/// One connection's stream and its writes, shared by its `Held` and [`OpenConnections`].
pub(super) struct Conn {
    pub(super) tcp: TcpStream,
    /// Writes that went through, counted (wrapping).
    written: AtomicU32,
    /// Whether a write waits for the client to read.
    waiting: AtomicBool,
}

impl Conn {
    pub(super) fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            written: AtomicU32::new(0),
            waiting: AtomicBool::new(false),
        }
    }

    /// Records a write that went through (`done`) or waits for the client.
    pub(super) fn wrote(&self, done: bool) {
        if done {
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        if self.waiting.load(Ordering::Relaxed) == done {
            self.waiting.store(!done, Ordering::Relaxed);
        }
    }

    /// Shuts the connection down (`how`), logging a failure.
    pub(super) fn shutdown(&self, how: Shutdown) {
        if let Err(e) = socket2::SockRef::from(&self.tcp).shutdown(how) {
            tracing::debug!("cannot shut a connection down: {e}");
        }
    }
}

/// How a connection's writes went while the server watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// Some went through: its client reads what it is sent.
    Flowing,
    /// One waited all along: its client stopped reading.
    Stalled,
    /// None was made: nothing left to send.
    Idle,
}

/// The connections of one server, each entered while it is open (see [`Entry`]).
#[derive(Clone, Default)]
pub(super) struct OpenConnections(Arc<Mutex<Conns>>);

#[derive(Default)]
struct Conns {
    next: u64,
    by_key: HashMap<u64, Weak<Conn>>,
}

impl OpenConnections {
    /// Enters `conn` until the returned [`Entry`] is dropped.
    pub(super) fn enter(&self, conn: &Arc<Conn>) -> Entry {
        let mut conns = self.lock();
        let key = conns.next;
        conns.next += 1;
        conns.by_key.insert(key, Arc::downgrade(conn));
        Entry {
            open: self.clone(),
            key,
        }
    }

    /// Closes both ways the connections whose clients stopped reading (a write waited all
    /// through a short watch): their readers see the end, and socket.io closes their sessions.
    pub(super) async fn close_stalled(self) {
        for (conn, writes) in watch(self.conns()).await {
            if writes == Writes::Stalled {
                conn.shutdown(Shutdown::Both);
            }
        }
    }

    /// Closes every open connection once nothing is left to send it, waiting at most `grace`
    /// for clients that still read: idle ones get the end of the stream after what they were
    /// sent (their clients close them then); the ones still written to after `grace`, and the
    /// ones whose clients stopped reading, are closed both ways. Returns how many were open.
    pub(super) async fn close_all(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut open = self.conns();
        let mut closed = 0;
        while !open.is_empty() {
            let last = Instant::now() >= deadline;
            let mut flowing = Vec::new();
            for (conn, writes) in watch(open).await {
                match writes {
                    Writes::Idle => conn.shutdown(Shutdown::Write),
                    Writes::Flowing if !last => {
                        flowing.push(Arc::downgrade(&conn));
                        continue;
                    }
                    Writes::Stalled | Writes::Flowing => conn.shutdown(Shutdown::Both),
                }
                closed += 1;
            }
            open = flowing;
        }
        closed
    }

    fn conns(&self) -> Vec<Weak<Conn>> {
        self.lock().by_key.values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Conns> {
        // Entering and leaving cannot leave the map half-changed: keep going after a panic.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The connections of `conns` still open, and how their writes went over [`SAMPLE`].
async fn watch(conns: Vec<Weak<Conn>>) -> Vec<(Arc<Conn>, Writes)> {
    let before: Vec<_> = conns
        .into_iter()
        .filter_map(|conn| {
            let written = conn.upgrade()?.written.load(Ordering::Relaxed);
            Some((conn, written))
        })
        .collect();
    tokio::time::sleep(SAMPLE).await;
    before
        .into_iter()
        .filter_map(|(conn, written)| {
            let conn = conn.upgrade()?;
            let writes = if conn.written.load(Ordering::Relaxed) != written {
                Writes::Flowing
            } else if conn.waiting.load(Ordering::Relaxed) {
                Writes::Stalled
            } else {
                Writes::Idle
            };
            Some((conn, writes))
        })
        .collect()
}

/// A connection's place in [`OpenConnections`]; dropping it leaves.
pub(super) struct Entry {
    open: OpenConnections,
    key: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut conns = self.open.lock();
        conns.by_key.remove(&self.key);
        // Give the table back once most connections have left.
        if conns.by_key.capacity() > 64 && conns.by_key.len() * 4 < conns.by_key.capacity() {
            conns.by_key.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// A connection entered in `open`, its client's end, and its entry.
    async fn connection(
        listener: &TcpListener,
        open: &OpenConnections,
    ) -> (Arc<Conn>, TcpStream, Entry) {
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let conn = Arc::new(Conn::new(listener.accept().await.unwrap().0));
        let entry = open.enter(&conn);
        (conn, client, entry)
    }

    async fn read_to_end(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        let mut read = Vec::new();
        client.read_to_end(&mut read).await.map(|_| read)
    }

    #[tokio::test]
    async fn only_stalled_connections_are_closed_while_the_others_stay_open() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = OpenConnections::default();
        let (stalled, mut stalled_client, _entry) = connection(&listener, &open).await;
        let (idle, mut idle_client, _idle_entry) = connection(&listener, &open).await;
        stalled.wrote(false);
        idle.wrote(true);

        open.clone().close_stalled().await;
        assert_eq!(read_to_end(&mut stalled_client).await.unwrap(), b"");
        idle_client.write_all(b"ping").await.unwrap();
        idle.tcp.readable().await.unwrap();
        let mut read = [0; 8];
        let n = idle.tcp.try_read(&mut read).unwrap();
        assert_eq!(&read[..n], b"ping", "the idle connection stays open");
    }

    #[tokio::test]
    async fn idle_connections_end_after_what_they_were_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = OpenConnections::default();
        let (idle, mut idle_client, _entry) = connection(&listener, &open).await;
        let (gone, _gone_client, gone_entry) = connection(&listener, &open).await;
        idle.tcp.writable().await.unwrap();
        assert_eq!(idle.tcp.try_write(b"last words").unwrap(), 10);
        idle.wrote(true);
        // A connection that closed before the shutdown is not counted.
        drop((gone, gone_entry));

        assert_eq!(open.close_all(Duration::from_secs(5)).await, 1);
        assert_eq!(read_to_end(&mut idle_client).await.unwrap(), b"last words");
    }
}
