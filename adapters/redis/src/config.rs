//! [`RedisConfig`]: where Redis is and how the adapter talks to it.

use std::{borrow::Cow, time::Duration};

/// The Redis URL used when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How the [`RedisAdapter`](crate::RedisAdapter) connects and talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: Cow<'static, str>,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive: Duration,
}

impl RedisConfig {
    /// Redis at `url` (e.g. `redis://:password@host:6379/0`), key prefix `socket.io`,
    /// 5 s request timeout, 3 s connect timeout, 1 s keepalive.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: Cow::Borrowed("socket.io"),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            keepalive: Duration::from_secs(1),
        }
    }

    /// The URL in `REDIS_URL`, else [`DEFAULT_REDIS_URL`].
    pub fn from_env() -> Self {
        Self::new(std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into()))
    }

    /// Prefix of every pub/sub channel: nodes with the same prefix form one cluster.
    pub fn prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a cluster-wide request (`fetch_sockets`, remote acks...) waits for the other nodes.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long one connection attempt (and one Redis command) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How often the connection is checked (and re-established after an outage); default 1 s.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every.max(Duration::from_millis(50));
        self
    }

    /// The URL with any password replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        iostack_core::redact_url(&self.url)
    }
}
