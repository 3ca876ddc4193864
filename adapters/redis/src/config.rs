//! [`RedisConfig`]: where Redis is and how the adapter talks to it.

use std::{borrow::Cow, time::Duration};

/// The Redis URL used when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where Redis is.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One server (or a primary behind one address).
    Single(String),
    /// The seed nodes of a Redis Cluster.
    #[cfg(feature = "cluster")]
    Cluster(Vec<String>),
}

/// How the [`RedisAdapter`](crate::RedisAdapter) connects and talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) target: Target,
    pub(crate) prefix: Cow<'static, str>,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive: Duration,
}

impl RedisConfig {
    /// Redis at `url` (e.g. `redis://:password@host:6379/0`), key prefix `socket.io`,
    /// 5 s request timeout, 3 s connect timeout, 1 s keepalive.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_target(Target::Single(url.into()))
    }

    /// A Redis Cluster reached through any of `nodes` (e.g. `redis://10.0.0.1:6379`; the others
    /// are discovered), with sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7+). Feature `cluster`.
    ///
    /// ```
    /// use iostack_redis::RedisConfig;
    ///
    /// let config = RedisConfig::cluster(["redis://:pw@10.0.0.1:6379", "redis://10.0.0.2:6379"]);
    /// assert_eq!(config.redacted_url(), "redis://:***@10.0.0.1:6379,redis://10.0.0.2:6379");
    /// ```
    #[cfg(feature = "cluster")]
    pub fn cluster<N: Into<String>>(nodes: impl IntoIterator<Item = N>) -> Self {
        Self::with_target(Target::Cluster(nodes.into_iter().map(Into::into).collect()))
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            prefix: Cow::Borrowed("socket.io"),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            keepalive: Duration::from_secs(1),
        }
    }

    /// The URL in `REDIS_URL`, else [`DEFAULT_REDIS_URL`]. With the `cluster` feature,
    /// `REDIS_CLUSTER_NODES` (comma-separated URLs), when set, selects a cluster instead.
    pub fn from_env() -> Self {
        #[cfg(feature = "cluster")]
        if let Ok(nodes) = std::env::var("REDIS_CLUSTER_NODES") {
            return Self::cluster(nodes.split(',').map(str::trim).filter(|n| !n.is_empty()));
        }
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

    /// The URL (a cluster's, comma-separated) with any password replaced by `***`, for logs
    /// and errors.
    pub fn redacted_url(&self) -> String {
        match &self.target {
            Target::Single(url) => iostack_core::redact_url(url),
            #[cfg(feature = "cluster")]
            Target::Cluster(nodes) => nodes
                .iter()
                .map(|n| iostack_core::redact_url(n))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}
