//! The connection the adapter talks through: one Redis server (a `ConnectionManager`), or a Redis
//! Cluster (feature `cluster`, sharded pub/sub). Both reconnect with backoff and resubscribe every
//! channel after an outage, and deliver pub/sub messages to the same push handler.

use std::{sync::Arc, time::Duration};

use redis::{FromRedisValue, ProtocolVersion, RedisResult, aio::ConnectionManager};

use crate::{RedisConfig, config::Target, subscriptions::Subscriptions};

/// A live connection to Redis or to a Redis Cluster; cheap to clone.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Connection::Single",
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl Connection {
    /// Connects as `config` says, routing every push (pub/sub message, disconnection) to
    /// `subscriptions`.
    pub(crate) async fn open(
        config: &RedisConfig,
        subscriptions: Arc<Subscriptions>,
    ) -> RedisResult<Self> {
        let push = move |push| {
            subscriptions.route(push);
            Ok::<(), redis::aio::SendError>(())
        };
        let timeout = config.connect_timeout;
        match &config.target {
            Target::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let info = client.get_connection_info().clone();
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(settings))?;
                let manager = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(2))
                    .set_automatic_resubscription()
                    .set_push_sender(push);
                Ok(Self::Single(
                    ConnectionManager::new_with_config(client, manager).await?,
                ))
            }
            #[cfg(feature = "cluster")]
            Target::Cluster(nodes) => {
                let client =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .use_protocol(ProtocolVersion::RESP3)
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(2)
                        .push_sender(push)
                        .build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// Makes every subscription again after a dropped connection. The connection renews them
    /// itself as soon as it reconnects, but a cluster node that is back before its cluster has
    /// re-formed refuses them; so they are made here until they succeed (subscribing twice is
    /// harmless).
    pub(crate) async fn renew(&self, subscriptions: &Subscriptions) -> RedisResult<()> {
        if !subscriptions.take_stale() {
            return Ok(());
        }
        for chan in subscriptions.channels() {
            if let Err(e) = self.subscribe(&chan).await {
                subscriptions.mark_stale();
                return Err(e);
            }
        }
        tracing::debug!("redis subscriptions renewed");
        Ok(())
    }

    /// Runs `cmd` (routed by its key in a cluster).
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Self::Single(conn) => cmd.query_async(&mut conn.clone()).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => cmd.query_async(&mut conn.clone()).await,
        }
    }

    /// Publishes `message` on `chan` (`SPUBLISH` in a cluster: the channel lives on one shard).
    pub(crate) async fn publish(&self, chan: String, message: Vec<u8>) -> RedisResult<()> {
        let verb = match self {
            Self::Single(_) => "PUBLISH",
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => "SPUBLISH",
        };
        self.query::<redis::Value>(redis::cmd(verb).arg(chan).arg(message))
            .await
            .map(drop)
    }

    /// Subscribes to `chan` (`SSUBSCRIBE` in a cluster).
    pub(crate) async fn subscribe(&self, chan: &str) -> RedisResult<()> {
        match self {
            Self::Single(conn) => conn.clone().subscribe(chan).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => conn.clone().ssubscribe(chan).await,
        }
    }

    /// Unsubscribes from `chan`.
    pub(crate) async fn unsubscribe(&self, chan: &str) -> RedisResult<()> {
        match self {
            Self::Single(conn) => conn.clone().unsubscribe(chan).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => conn.clone().sunsubscribe(chan).await,
        }
    }

    /// How many subscribers `chan` has, i.e. how many nodes listen on it.
    pub(crate) async fn subscribers(&self, chan: &str) -> RedisResult<u16> {
        let verb = match self {
            Self::Single(_) => "NUMSUB",
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => "SHARDNUMSUB",
        };
        // One node answers `[chan, n]`; a cluster merges every shard's answer into a map.
        let counts: std::collections::HashMap<String, u16> =
            self.query(redis::cmd("PUBSUB").arg(verb).arg(chan)).await?;
        Ok(counts.get(chan).copied().unwrap_or(0))
    }
}
