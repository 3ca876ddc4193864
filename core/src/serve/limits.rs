//! [`ServerLimits`]: what one HTTP connection may hold, and how many may be open.

use std::time::Duration;

/// Limits of the HTTP server in front of socket.io, set with
/// [`AppBuilder::server_limits`](crate::AppBuilder::server_limits).
///
/// The defaults close what hostile or broken clients would otherwise hold forever: a TCP
/// connection that sends nothing, request headers sent a byte at a time, a polling request body
/// that never arrives, an idle keep-alive connection; and they cap open connections below the
/// process's file-descriptor limit, so that monitoring and healthy clients still get in.
///
/// ```
/// use std::time::Duration;
/// use iostack_core::ServerLimits;
///
/// let limits = ServerLimits::new()
///     .header_timeout(Duration::from_secs(5))
///     .max_connections(20_000);
/// assert_eq!(limits.max_connections_value(), 20_000);
/// ```
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) send_timeout: Duration,
    pub(crate) tcp_nodelay: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            send_timeout: Duration::from_secs(30),
            tcp_nodelay: true,
        }
    }
}

impl ServerLimits {
    /// The defaults: 10 s for request headers (from the moment the connection opens, and between
    /// keep-alive requests), 10 s for a request body, 30 s for a client to read what it is sent,
    /// connections capped below the open-file limit (10,000 where it cannot be read),
    /// `TCP_NODELAY` on.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a client may take to send a request's headers, counted from the moment the
    /// connection opens or the previous response ends; then the connection is closed.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a client may take between two pieces of a request body (a long-polling POST).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How many TCP connections may be open at once (at least 1), HTTP and websocket alike: a
    /// connection upgraded to a websocket keeps its place until the websocket closes. Further
    /// connections wait in the listen backlog until one closes.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a write to a client may wait without the client reading anything; then the
    /// connection is closed (its socket.io session ends as a transport error) and the close is
    /// logged with the peer address.
    ///
    /// A client that stops reading, whether gone without a word or hostile, otherwise keeps its
    /// outgoing messages (up to `max_buffer_size` of them) and its kernel buffers until the
    /// heartbeat notices, and a client that answers pings without reading keeps them forever. The
    /// timer runs only while a write waits: a slow client that reads a little at a time is not
    /// affected.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// The connection cap in force.
    pub fn max_connections_value(&self) -> usize {
        self.max_connections
    }

    /// Whether accepted sockets get `TCP_NODELAY` (default on: without it a small write right
    /// after another can wait ~40 ms).
    pub fn tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.tcp_nodelay = nodelay;
        self
    }
}

/// Below the soft open-file limit, leaving room for the stores, logs and listeners of the process.
fn default_max_connections() -> usize {
    const HEADROOM: usize = 64;
    open_file_limit()
        .map(|limit| limit.saturating_sub(HEADROOM).max(HEADROOM))
        .unwrap_or(10_000)
}

/// The soft `Max open files` of this process, where `/proc` tells it.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cap_stays_below_the_open_file_limit() {
        let cap = ServerLimits::new().max_connections_value();
        match open_file_limit() {
            Some(limit) if limit > 128 => assert!(cap < limit, "{cap} >= {limit}"),
            _ => assert!(cap >= 64),
        }
        assert_eq!(
            ServerLimits::new()
                .max_connections(0)
                .max_connections_value(),
            1
        );
    }
}
