//! A socketioxide-redis driver on redis' `ConnectionManager`: it reconnects with backoff and
//! resubscribes every channel after a Redis restart, so no node needs restarting.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use redis::{FromRedisValue, PushInfo, PushKind, aio::ConnectionManager};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// Subscribed channels and where their messages go.
pub(crate) type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The driver's error: the redis error, with the command that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub(crate) String);

/// The driver installed by [`RedisAdapter`](crate::RedisAdapter).
#[derive(Clone)]
pub struct ResilientDriver {
    pub(crate) conn: ConnectionManager,
    pub(crate) handlers: Handlers,
    pub(crate) dropped_broadcasts: Arc<AtomicU64>,
}

/// Routes a pub/sub message to its channel's handler; called by the connection for every push.
pub(crate) fn route_push(push: PushInfo, handlers: &Handlers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) || push.data.len() < 2 {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(chan), Some(message)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(chan), Ok(message)) = (
        String::from_redis_value(chan),
        Vec::<u8>::from_redis_value(message),
    ) else {
        tracing::warn!("unreadable redis pub/sub message");
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&chan)
        && let Err(e) = tx.try_send((chan, message))
    {
        tracing::warn!("redis pub/sub message dropped: {e}");
    }
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
        let published = redis::cmd("PUBLISH")
            .arg(chan)
            .arg(val)
            .query_async::<redis::Value>(&mut self.conn.clone())
            .await;
        match published {
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
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        self.conn
            .clone()
            .subscribe(chan.as_str())
            .await
            .map_err(|e| failed("subscribe", e))?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.conn
            .clone()
            .unsubscribe(chan)
            .await
            .map_err(|e| failed("unsubscribe", e))
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| failed("PUBSUB NUMSUB", e))?;
        Ok(count)
    }
}
