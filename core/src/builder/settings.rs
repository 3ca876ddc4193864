//! The settings of [`AppBuilder`]: the Socket.IO server's timeouts and limits, the per-socket
//! queues, the event gates, shutdown and periodic logs.

use std::{sync::Arc, time::Duration};

use socketioxide::SocketIoBuilder;

use super::AppBuilder;
use crate::{EventGate, ServerLimits, delivery::Overflow, shutdown::ShutdownOptions};

impl<S, CL, EL> AppBuilder<S, CL, EL>
where
    S: Clone + Send + Sync + 'static,
{
    /// Tunes the socketioxide server (buffer sizes, timeouts, ping interval...).
    pub fn configure(
        mut self,
        f: impl FnOnce(SocketIoBuilder) -> SocketIoBuilder + Send + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Limits of the HTTP server: header and body timeouts, the cap on open connections,
    /// `TCP_NODELAY` (see [`ServerLimits`] for the defaults).
    pub fn server_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How often the server pings each client, and how long it waits for the answer before it
    /// closes the connection (defaults 25 s and 20 s, as Socket.IO's).
    pub fn ping(self, interval: Duration, timeout: Duration) -> Self {
        self.configure(move |b| b.ping_interval(interval).ping_timeout(timeout))
    }

    /// How long a client has, after the Engine.IO handshake, to connect to a namespace (default
    /// 10 s; Socket.IO's is 45 s). A handshake that never connects, or whose connect was refused,
    /// holds about 15 KiB until then, even when its client already left: a short timeout bounds
    /// what a connect storm can hold.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.configure(move |b| b.connect_timeout(timeout))
    }

    /// The largest message a client may send, in bytes, on every transport (default 100 kB): a
    /// long-polling body, a websocket message or frame. Larger ones close the connection.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes.max(1);
        self
    }

    /// Bytes read at once from each websocket (default 1024): memory per idle connection against
    /// read passes per large message.
    pub fn ws_read_buffer_size(self, bytes: usize) -> Self {
        self.configure(move |b| b.ws_read_buffer_size(bytes.max(64)))
    }

    /// The transports clients may use (default both); e.g. websocket only behind a load
    /// balancer without sticky sessions.
    pub fn transports<const N: usize>(self, transports: [socketioxide::TransportType; N]) -> Self {
        self.configure(move |b| b.transports(transports))
    }

    /// How many outgoing messages may wait for one slow client before further ones are refused
    /// (default 1024; socketioxide's own default is 128). Refusals are counted, see
    /// [`delivery`](crate::delivery).
    pub fn max_buffer_size(self, size: usize) -> Self {
        self.configure(move |b| b.max_buffer_size(size.max(1)))
    }

    /// What a broadcast does when a socket's queue is full: drop the message for that socket
    /// and count it (the default), wait a bounded time for its client to make room, or drop it
    /// and disconnect the slow consumer. See [`Overflow`].
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// Whether each socket's events are handled one at a time in arrival order (default `true`).
    ///
    /// With `false` every event runs as its own task, as in plain socketioxide: faster for slow,
    /// independent handlers, but replies to back-to-back events may come back reordered.
    pub fn ordered_events(mut self, ordered: bool) -> Self {
        self.options.ordered = ordered;
        self
    }

    /// How many events one socket may have waiting (default 256); past that, new events are
    /// refused with `Too many pending events` instead of growing memory without bound.
    pub fn event_queue_capacity(mut self, capacity: usize) -> Self {
        self.options.queue_capacity = capacity.max(1);
        self
    }

    /// How many payload bytes one socket's waiting events may hold (default 1 MiB; one event is
    /// always admitted, up to [`max_payload`](Self::max_payload)); past that, new events are
    /// refused with `Too many pending events`.
    pub fn event_queue_bytes(mut self, bytes: usize) -> Self {
        self.options.queue_bytes = bytes;
        self
    }

    /// Checks every incoming event of every namespace with `gate` as it arrives, before it is
    /// queued: see [`EventGate`]. A rate limit belongs here, so that a flood is refused even
    /// while the socket's handlers are slow.
    pub fn gate(mut self, gate: impl EventGate) -> Self {
        self.gates.push(Arc::new(gate));
        self
    }

    /// How the server shuts down: the notice clients receive and the drain time.
    pub fn shutdown(mut self, options: ShutdownOptions) -> Self {
        self.shutdown = options;
        self
    }

    /// Logs `Active connections: N` at this interval while the app runs.
    pub fn log_active_connections(mut self, every: Duration) -> Self {
        self.active_log = Some(every);
        self
    }
}
