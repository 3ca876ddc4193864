//! Redis adapter for [iostack](https://docs.rs/iostack): nodes sharing one Redis act as one server —
//! broadcasts, rooms, `fetch_sockets`, remote joins and disconnects cross nodes through Redis pub/sub.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_redis::RedisAdapter;
//!
//! # async fn run() -> Result<(), iostack_core::BuildError> {
//! let app = App::builder(()).adapter(RedisAdapter::from_env()).build().await?;
//! assert_eq!(app.io().adapter_name(), "redis");
//! # Ok(()) }
//! ```
//!
//! Needs Redis 7 or later (RESP3 push messages). If Redis cannot be reached at start, `build()` fails
//! with the URL (password redacted) and the cause. Once running, the connection is re-established
//! with backoff and every channel resubscribed after an outage: while Redis is away, local delivery
//! goes on, cluster-wide calls fail within their timeout, `health()` reports the cause, and nothing
//! crashes.
//!
//! With the `cluster` feature, `RedisConfig::cluster` (or `REDIS_CLUSTER_NODES`) connects to a
//! Redis Cluster and uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`).

mod config;
mod connection;
mod driver;
mod subscriptions;

pub use config::{DEFAULT_REDIS_URL, RedisConfig};
pub use driver::{DriverError, ResilientDriver};

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use iostack_core::{Adapter, AdapterError, BoxFuture, Health, IoState, NamespaceInit};
use socketioxide::adapter::Emitter;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use connection::Connection;
use subscriptions::Subscriptions;

/// The socketioxide adapter installed by [`RedisAdapter`].
pub type RedisIoAdapter = CustomRedisAdapter<Emitter, ResilientDriver>;

/// Connects iostack nodes through Redis pub/sub.
#[derive(Debug)]
pub struct RedisAdapter {
    config: RedisConfig,
    conn: tokio::sync::OnceCell<Connection>,
    dropped_broadcasts: Arc<AtomicU64>,
    keepalive: std::sync::OnceLock<tokio::task::AbortHandle>,
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        if let Some(task) = self.keepalive.get() {
            task.abort();
        }
    }
}

/// Pings Redis at every `every`: a lost connection is re-established (and its channels
/// resubscribed) on the next command, so a node that only listens must send one.
fn keep_alive(
    conn: Connection,
    subscriptions: Arc<Subscriptions>,
    every: Duration,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_up = true;
        loop {
            ticks.tick().await;
            let up = conn.query::<String>(&redis::cmd("PING")).await.is_ok()
                && conn.renew(&subscriptions).await.is_ok();
            match (was_up, up) {
                (true, false) => tracing::error!("redis connection lost; retrying"),
                (false, true) => tracing::info!("redis connection restored; channels resubscribed"),
                _ => {}
            }
            was_up = up;
        }
    })
    .abort_handle()
}

impl RedisAdapter {
    /// Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`), default settings.
    pub fn from_env() -> Self {
        Self::new(RedisConfig::from_env())
    }

    /// Redis as `config` says.
    pub fn new(config: RedisConfig) -> Self {
        Self {
            config,
            conn: tokio::sync::OnceCell::new(),
            dropped_broadcasts: Arc::default(),
            keepalive: std::sync::OnceLock::new(),
        }
    }

    fn error(&self, cause: impl std::fmt::Display) -> AdapterError {
        AdapterError::new(format!(
            "cannot reach Redis at {}: {cause}",
            self.config.redacted_url()
        ))
    }

    async fn connect(&self, subscriptions: Arc<Subscriptions>) -> Result<Connection, AdapterError> {
        let timeout = self.config.connect_timeout;
        tokio::time::timeout(timeout, Connection::open(&self.config, subscriptions))
            .await
            .map_err(|_| self.error(format!("no answer within {timeout:?}")))?
            .map_err(|e| self.error(e))
    }
}

#[async_trait::async_trait]
impl Adapter for RedisAdapter {
    type Io = RedisIoAdapter;

    fn name(&self) -> &'static str {
        "redis"
    }

    async fn install(&self) -> Result<IoState<RedisIoAdapter>, AdapterError> {
        let subscriptions = Arc::new(Subscriptions::default());
        let conn = self.connect(subscriptions.clone()).await?;
        let _ = self.conn.set(conn.clone());
        let _ = self.keepalive.set(keep_alive(
            conn.clone(),
            subscriptions.clone(),
            self.config.keepalive,
        ));
        let driver = ResilientDriver {
            conn,
            subscriptions,
            dropped_broadcasts: self.dropped_broadcasts.clone(),
        };
        let config = RedisAdapterConfig::new()
            .with_prefix(self.config.prefix.clone())
            .with_request_timeout(self.config.request_timeout);
        let ctr = RedisAdapterCtr::new_with_driver(driver, config);
        tracing::info!(url = %self.config.redacted_url(), "redis adapter connected");
        Ok(ctr)
    }

    fn init_namespace(
        init: NamespaceInit<RedisIoAdapter>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(async move {
            init.await
                .map_err(|e| AdapterError::new(format!("redis subscription failed: {e}")))
        })
    }

    async fn health(&self) -> Health {
        let dropped = self.dropped_broadcasts.load(Ordering::Relaxed);
        let Some(conn) = self.conn.get() else {
            return Health::Down("not connected yet".into());
        };
        let ping = redis::cmd("PING");
        match tokio::time::timeout(self.config.connect_timeout, conn.query::<String>(&ping)).await {
            Ok(Ok(_)) => Health::Up,
            Ok(Err(e)) => Health::Down(format!(
                "redis at {}: {e} ({dropped} broadcasts delivered locally only)",
                self.config.redacted_url()
            )),
            Err(_) => Health::Down(format!(
                "redis at {}: no answer to PING ({dropped} broadcasts delivered locally only)",
                self.config.redacted_url()
            )),
        }
    }
}
