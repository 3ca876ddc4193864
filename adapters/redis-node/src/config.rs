//! [`RedisNodeConfig`]: where Redis is and how the node talks to the Node cluster.

use std::time::Duration;

/// The URL used when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Settings of a [`RedisNodeAdapter`](crate::RedisNodeAdapter), built with methods.
///
/// ```
/// use std::time::Duration;
/// use iostack_redis_node::RedisNodeConfig;
///
/// let config = RedisNodeConfig::new("redis://127.0.0.1:6379")
///     .key("socket.io") // the `key` option of the Node adapter
///     .request_timeout(Duration::from_secs(5));
/// assert_eq!(config.redacted_url(), "redis://127.0.0.1:6379");
/// ```
#[derive(Debug, Clone)]
pub struct RedisNodeConfig {
    pub(crate) url: String,
    pub(crate) key: String,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) specific_response_channel: bool,
    pub(crate) keepalive: Duration,
}

impl RedisNodeConfig {
    /// Redis at `url`, with the Node adapter's defaults: key `socket.io`, 5 s request timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            specific_response_channel: false,
            keepalive: Duration::from_secs(10),
        }
    }

    /// Redis at `REDIS_URL`, or [`DEFAULT_REDIS_URL`]; `SOCKET_IO_REDIS_KEY` sets the key.
    pub fn from_env() -> Self {
        let mut config =
            Self::new(std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into()));
        if let Ok(key) = std::env::var("SOCKET_IO_REDIS_KEY") {
            config.key = key;
        }
        config
    }

    /// The channel prefix: must equal the `key` option of every Node server (default `socket.io`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// How long a cluster-wide request (fetch sockets, all rooms, server-side emit with acks)
    /// waits for every other node (the Node adapter's `requestsTimeout`, default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long connecting to Redis and each command may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Answer requests on the requester's own response channel, like the Node adapter's
    /// `publishOnSpecificResponseChannel: true` (every node of the cluster should agree).
    pub fn publish_on_specific_response_channel(mut self, yes: bool) -> Self {
        self.specific_response_channel = yes;
        self
    }

    /// How often the idle pub/sub connection is checked with `PING` (default 10 s): a
    /// connection that died without closing is replaced after at most this plus the connect
    /// timeout.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        iostack_core::redact_url(&self.url)
    }
}

impl Default for RedisNodeConfig {
    fn default() -> Self {
        Self::new(DEFAULT_REDIS_URL)
    }
}
