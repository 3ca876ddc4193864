//! Messages that could not be delivered: counted per app and namespace, never lost silently.
//!
//! socketioxide queues a bounded number of messages per socket (`max_buffer_size`, 1024 in iostack
//! apps; 128 in socketioxide) and refuses more while a client does not keep up. Every broadcast of
//! an iostack app (`io.emit`, `io.to(room).emit`, `socket.broadcast()`, `socket.to(room)`, the
//! [`Io`](crate::Io) helpers, content events) passes through the app's
//! [`AnyAdapter`](crate::AnyAdapter), which counts each message a local socket refused in the app's
//! [`Deliveries`] (`io.deliveries()`), whatever the caller does with the emit's result. The
//! shutdown notice is offered to a full socket again while its client reads, and counted if it
//! was never taken. Monitoring reports the counts as `iostack_dropped_messages_total`.
//!
//! What a broadcast does with a full socket is the app's [`Overflow`] policy: drop the message
//! (the default), wait a bounded time for the client to make room, or drop it and disconnect the
//! slow consumer (counted as [`Deliveries::slow_consumers_disconnected`], reported as
//! `iostack_slow_consumers_disconnected_total`).
//!
//! An acknowledged broadcast (`emit_with_ack` on operators) learns which sockets refused it from its
//! acknowledgement stream, on every node: the emitting node counts the refusals it reads there
//! (when the stream ends or is dropped). Acknowledged broadcasts are never waited for.
//!
//! Not counted: a direct `socket.emit(..)` to one socket returns the refusal to its caller only,
//! and a broadcast from another node is counted by that node for its own sockets only.

mod acks;
mod overflow;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use socketioxide::{BroadcastError, SocketError, socket::Sid};
use tokio::time::Instant;

use crate::serve::SessionConnections;

pub(crate) use acks::CountedAcks;
pub use overflow::{Overflow, RETRY};
pub(crate) use overflow::{offer, offer_until};

/// The dropped-message counts of one app, in total and per namespace, the slow consumers it
/// disconnected, and its [`Overflow`] policy. Cheap to clone; every clone counts into the same
/// numbers.
#[derive(Debug, Clone, Default)]
pub struct Deliveries {
    inner: Arc<Counts>,
    overflow: Overflow,
    /// The websocket connection of each session, kept under [`Overflow::Disconnect`] only.
    sessions: Option<SessionConnections>,
}

#[derive(Debug, Default)]
struct Counts {
    dropped: Tally,
    disconnected: Tally,
}

/// One count, in total and per namespace path.
#[derive(Debug, Default)]
struct Tally {
    total: AtomicU64,
    /// Keyed by namespace path: only declared namespaces emit, so the map stays small.
    by_namespace: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    /// Adds `n` in namespace `ns`; returns the new total.
    fn add(&self, ns: &str, n: u64) -> u64 {
        *self.by_namespace().entry(ns.to_owned()).or_default() += n;
        self.total.fetch_add(n, Ordering::Relaxed) + n
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn in_namespace(&self, ns: &str) -> u64 {
        self.by_namespace().get(ns).copied().unwrap_or(0)
    }

    fn by_namespace(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // A panic while counting leaves the map consistent: keep counting.
        self.by_namespace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Deliveries {
    pub(crate) fn new(overflow: Overflow) -> Self {
        Self {
            inner: Arc::default(),
            overflow,
            sessions: (overflow == Overflow::Disconnect).then(SessionConnections::default),
        }
    }

    /// What the app's broadcasts do with a full socket.
    pub fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Messages refused by full socket buffers since the app was built.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.total()
    }

    /// Messages refused in namespace `ns` since the app was built.
    pub fn dropped_in_namespace(&self, ns: &str) -> u64 {
        self.inner.dropped.in_namespace(ns)
    }

    /// The same count per namespace path, in path order.
    pub fn dropped_by_namespace(&self) -> Vec<(String, u64)> {
        self.inner
            .dropped
            .by_namespace()
            .iter()
            .map(|(ns, n)| (ns.clone(), *n))
            .collect()
    }

    /// Sockets whose connection was closed because their queue was full, under
    /// [`Overflow::Disconnect`], since the app was built.
    pub fn slow_consumers_disconnected(&self) -> u64 {
        self.inner.disconnected.total()
    }

    /// The same count for namespace `ns` (the namespace of the broadcast that found the socket
    /// full).
    pub fn slow_consumers_disconnected_in_namespace(&self, ns: &str) -> u64 {
        self.inner.disconnected.in_namespace(ns)
    }

    /// Counts `dropped` messages refused in namespace `ns`.
    pub(crate) fn add(&self, ns: &str, dropped: usize) {
        if dropped == 0 {
            return;
        }
        let total = self.inner.dropped.add(ns, dropped as u64);
        tracing::warn!(ns, dropped, total, "messages dropped: socket buffers full");
    }

    /// Where the websocket connection of each session is recorded, under
    /// [`Overflow::Disconnect`].
    pub(crate) fn sessions(&self) -> Option<&SessionConnections> {
        self.sessions.as_ref()
    }

    /// Closes the connection of socket `sid` of namespace `ns`, whose full queue refused a
    /// message, and counts it; a socket whose connection is unknown (polling) or closing already
    /// is left as it is.
    pub(crate) fn disconnect_slow(&self, ns: &str, sid: Sid) {
        if self.sessions.as_ref().is_some_and(|s| s.close(sid)) {
            let total = self.inner.disconnected.add(ns, 1);
            tracing::warn!(
                ns,
                total,
                "disconnecting a slow consumer: its queue of messages is full"
            );
        }
    }
}

/// Offers each of the `refused` again every `every`, with `still_refused` (which offers one and
/// says whether its full buffer refused it again), until every one was taken or `deadline` passed.
/// Returns the ones still refused.
pub(crate) async fn offer_again_until<T>(
    mut refused: Vec<T>,
    deadline: Instant,
    every: Duration,
    mut still_refused: impl FnMut(&T) -> bool,
) -> Vec<T> {
    while !refused.is_empty() && Instant::now() < deadline {
        tokio::time::sleep_until((Instant::now() + every).min(deadline)).await;
        refused.retain(&mut still_refused);
    }
    refused
}

/// How many messages `error` says full socket buffers refused.
pub(crate) fn dropped_in(error: &BroadcastError) -> usize {
    match error {
        BroadcastError::Socket(errors) => errors
            .iter()
            .filter(|e| matches!(e, SocketError::InternalChannelFull))
            .count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_namespace_and_in_total() {
        let deliveries = Deliveries::default();
        let full = || {
            BroadcastError::Socket(vec![
                SocketError::InternalChannelFull,
                SocketError::InternalChannelFull,
                SocketError::Closed,
            ])
        };
        deliveries.add("/chat", dropped_in(&full()));
        deliveries.clone().add("/", dropped_in(&full()));
        deliveries.add("/chat", 0);
        assert_eq!(deliveries.dropped(), 4);
        assert_eq!(deliveries.dropped_in_namespace("/chat"), 2);
        assert_eq!(deliveries.dropped_in_namespace("/admin"), 0);
        assert_eq!(
            deliveries.dropped_by_namespace(),
            [("/".to_owned(), 2), ("/chat".to_owned(), 2)]
        );
        // Another app's counts are its own.
        assert_eq!(Deliveries::default().dropped(), 0);
    }
}
