//! The channels this node listens on, and where their pub/sub messages go.

use std::{
    collections::HashMap,
    sync::{
        RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use redis::{FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::ChanItem;
use tokio::sync::mpsc;

/// Subscribed channels with their receivers; shared by the driver and the connection's push handler.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    channels: RwLock<HashMap<String, mpsc::Sender<ChanItem>>>,
    /// Set when a connection dropped: its subscriptions may need to be made again.
    stale: AtomicBool,
}

impl Subscriptions {
    pub(crate) fn insert(&self, chan: String, tx: mpsc::Sender<ChanItem>) {
        self.write().insert(chan, tx);
    }

    pub(crate) fn remove(&self, chan: &str) {
        self.write().remove(chan);
    }

    /// Every subscribed channel.
    pub(crate) fn channels(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Whether a connection dropped since the last call (the flag is cleared).
    pub(crate) fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::AcqRel)
    }

    /// Flags the subscriptions for renewal.
    pub(crate) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Handles a push from Redis: a pub/sub message goes to its channel's receiver; a dropped
    /// connection flags the subscriptions as stale.
    pub(crate) fn route(&self, push: PushInfo) {
        if push.kind == PushKind::Disconnection {
            self.mark_stale();
            return;
        }
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
        if let Some(tx) = self.read().get(&chan)
            && let Err(e) = tx.try_send((chan, message))
        {
            tracing::warn!("redis pub/sub message dropped: {e}");
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, mpsc::Sender<ChanItem>>> {
        self.channels.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, mpsc::Sender<ChanItem>>> {
        self.channels.write().unwrap_or_else(|e| e.into_inner())
    }
}
