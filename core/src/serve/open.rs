//! [`OpenConnections`]: the TCP connections a server has open and how their writes go, so that
//! its shutdown can close those that clients keep open or stopped reading, after the clients that
//! still read got what they were sent.

use std::{
    collections::HashMap,
    net::Shutdown,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering},
    },
    task::Waker,
    time::Duration,
};

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

/// How long the server watches a connection's writes to tell how it goes.
const SAMPLE: Duration = Duration::from_millis(100);

/// What one connection shares with [`OpenConnections`]: how its writes go, and how the server
/// asks it to shut down. The connection's `Held` stream does the shutting down, in its reader,
/// which the server wakes for it.
#[derive(Default)]
pub(super) struct Conn {
    /// Writes that went through, counted (wrapping).
    written: AtomicU32,
    /// Whether a write waits for the client to read.
    waiting: AtomicBool,
    /// How the server asked the connection to shut down (see [`Asked`]).
    asked: AtomicU8,
    reader: AtomicWaker,
}

/// How the server asked a connection to shut down, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(super) enum Asked {
    Nothing = 0,
    /// Send the end of the stream after what was written.
    Write = 1,
    /// Close both ways: the reader sees the end, pending writes fail.
    Both = 2,
}

impl Asked {
    /// The `shutdown(2)` this asks for, if any.
    pub(super) fn shutdown(self) -> Option<Shutdown> {
        match self {
            Asked::Nothing => None,
            Asked::Write => Some(Shutdown::Write),
            Asked::Both => Some(Shutdown::Both),
        }
    }
}

impl Conn {
    /// Records a write that went through (`done`) or waits for the client.
    pub(super) fn wrote(&self, done: bool) {
        if done {
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        if self.waiting.load(Ordering::Relaxed) == done {
            self.waiting.store(!done, Ordering::Relaxed);
        }
    }

    /// How the server asked the connection to shut down so far.
    pub(super) fn asked(&self) -> Asked {
        match self.asked.load(Ordering::Acquire) {
            0 => Asked::Nothing,
            1 => Asked::Write,
            _ => Asked::Both,
        }
    }

    /// Wakes `reader` when the server asks the connection to shut down.
    pub(super) fn wake_on_ask(&self, reader: &Waker) {
        self.reader.register(reader);
    }

    /// Asks the connection to close both ways (see [`Asked::Both`]). Returns false if it was
    /// asked already.
    pub(super) fn close_both(&self) -> bool {
        self.ask(Asked::Both)
    }

    /// Raises what the connection is asked to `how`; returns whether it was asked less before.
    fn ask(&self, how: Asked) -> bool {
        let before = self.asked.fetch_max(how as u8, Ordering::AcqRel);
        self.reader.wake();
        before < how as u8
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
                conn.close_both();
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
                    Writes::Idle => {
                        conn.ask(Asked::Write);
                    }
                    Writes::Flowing if !last => {
                        flowing.push(Arc::downgrade(&conn));
                        continue;
                    }
                    Writes::Stalled | Writes::Flowing => {
                        conn.close_both();
                    }
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
