//! A socketioxide-redis driver on a self-healing [`Connection`]: it reconnects with backoff and
//! resubscribes every channel after a Redis restart, so no node needs restarting.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use crate::{connection::Connection, subscriptions::Subscriptions};

/// The driver's error: the redis error, with the command that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub(crate) String);

/// The driver installed by [`RedisAdapter`](crate::RedisAdapter).
#[derive(Clone)]
pub struct ResilientDriver {
    pub(crate) conn: Connection,
    pub(crate) subscriptions: Arc<Subscriptions>,
    pub(crate) dropped_broadcasts: Arc<AtomicU64>,
}

fn failed(what: &str, e: redis::RedisError) -> DriverError {
    tracing::warn!("redis {what} failed: {e}");
    DriverError(format!("redis {what} failed: {e}"))
}

impl Driver for ResilientDriver {
    type Error = DriverError;

    /// A broadcast that cannot reach Redis is reported as sent, so that socketioxide-redis goes on
    /// to deliver it to this node's sockets (it delivers locally only after a successful publish);
    /// the other nodes miss it, which is logged and counted. Every other request fails.
    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let is_broadcast = iostack_core::is_remote_broadcast(&val);
        match self.conn.publish(chan, val).await {
            Ok(_) => Ok(()),
            Err(e) if is_broadcast => {
                let dropped = self.dropped_broadcasts.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    dropped,
                    "redis unreachable, broadcast delivered to this node only: {e}"
                );
                Ok(())
            }
            Err(e) => Err(failed("publish", e)),
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        self.subscriptions.insert(chan.clone(), tx);
        self.conn
            .subscribe(&chan)
            .await
            .map_err(|e| failed("subscribe", e))?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.subscriptions.remove(&chan);
        self.conn
            .unsubscribe(&chan)
            .await
            .map_err(|e| failed("unsubscribe", e))
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        self.conn
            .subscribers(chan)
            .await
            .map_err(|e| failed("PUBSUB NUMSUB", e))
    }
}
