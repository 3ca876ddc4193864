//! [`ConnectionRegistry`]: what is connected to this node right now.

use std::{
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    sync::{Arc, RwLock},
    time::SystemTime,
};

use hashbrown::{HashTable, hash_table::Entry};
use serde::Serialize;

use crate::Identity;

/// One live socket, as the registry records it when the socket is admitted.
///
/// `id` is the Engine.IO session id, which lets its holder act as the socket: it is never
/// serialized. Monitoring output names a connection by `connection`, a number with no meaning
/// outside this node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// The socket id (a credential: not serialized).
    #[serde(skip_serializing)]
    pub id: String,
    /// This node's number for the connection, in admission order: safe to show and log.
    pub connection: u64,
    /// The namespace the socket connected to.
    pub ns: String,
    /// The TCP peer address, when the server recorded it.
    pub peer: Option<SocketAddr>,
    /// The handshake's `User-Agent` header.
    pub user_agent: Option<String>,
    /// The identity attached by the connect stack.
    pub identity: Option<Identity>,
    /// When the socket was admitted.
    #[serde(with = "unix_millis")]
    pub connected_at: SystemTime,
}

/// The live sockets of this node, keyed by namespace and socket id; updated on connect and disconnect.
///
/// Cheap to clone: clones share one table.
#[derive(Debug, Clone, Default)]
pub struct ConnectionRegistry {
    inner: Arc<RwLock<Table>>,
    changed: Arc<tokio::sync::Notify>,
    admitted: Arc<std::sync::atomic::AtomicU64>,
}

/// The entries, found by the namespace and id they hold: no key is stored beside them, and a slot
/// is one pointer, so the table's spare capacity costs little.
#[derive(Debug, Default)]
struct Table {
    entries: HashTable<Box<ConnectionInfo>>,
    hasher: RandomState,
}

impl Table {
    fn insert(&mut self, info: ConnectionInfo) {
        let hasher = &self.hasher;
        let hash = key_hash(hasher, &info.ns, &info.id);
        match self.entries.entry(
            hash,
            |c| c.is(&info.ns, &info.id),
            |c| key_hash(hasher, &c.ns, &c.id),
        ) {
            Entry::Occupied(mut entry) => **entry.get_mut() = info,
            Entry::Vacant(entry) => {
                entry.insert(Box::new(info));
            }
        }
    }

    fn remove(&mut self, ns: &str, id: &str) -> Option<ConnectionInfo> {
        let hash = key_hash(&self.hasher, ns, id);
        let entry = self.entries.find_entry(hash, |c| c.is(ns, id)).ok()?;
        let (removed, _) = entry.remove();
        let spare = self.entries.capacity() - self.entries.len();
        if spare > 64 && spare > 3 * self.entries.len() {
            // Give memory back once most clients have left.
            let hasher = &self.hasher;
            self.entries
                .shrink_to_fit(|c| key_hash(hasher, &c.ns, &c.id));
        }
        Some(*removed)
    }

    fn get(&self, ns: &str, id: &str) -> Option<&ConnectionInfo> {
        let hash = key_hash(&self.hasher, ns, id);
        self.entries.find(hash, |c| c.is(ns, id)).map(|c| &**c)
    }
}

/// The one hash of a `(namespace, id)` key: for lookups, and for the entries the table moves.
fn key_hash(hasher: &RandomState, ns: &str, id: &str) -> u64 {
    hasher.hash_one((ns, id))
}

impl ConnectionInfo {
    /// Whether this is socket `id` of namespace `ns`.
    fn is(&self, ns: &str, id: &str) -> bool {
        self.ns == ns && self.id == id
    }
}

impl ConnectionRegistry {
    /// Records an admitted socket, numbering it.
    pub(crate) fn insert(&self, mut info: ConnectionInfo) {
        info.connection = self
            .admitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.write().insert(info);
        self.changed.notify_waiters();
    }

    /// Forgets a socket, returning what was recorded.
    pub(crate) fn remove(&self, ns: &str, id: &str) -> Option<ConnectionInfo> {
        let removed = self.write().remove(ns, id);
        self.changed.notify_waiters();
        removed
    }

    /// Resolves once no socket is live.
    pub async fn wait_until_empty(&self) {
        loop {
            // Created before the check, so a removal in between still wakes it.
            let changed = self.changed.notified();
            if self.is_empty() {
                return;
            }
            changed.await;
        }
    }

    /// Every live socket, oldest first.
    pub fn snapshot(&self) -> Vec<ConnectionInfo> {
        let mut all: Vec<_> = self.read().entries.iter().map(|c| (**c).clone()).collect();
        all.sort_by_key(|c| c.connected_at);
        all
    }

    /// The socket `id` in namespace `ns`, if it is live.
    pub fn get(&self, ns: &str, id: &str) -> Option<ConnectionInfo> {
        self.read().get(ns, id).cloned()
    }

    /// How many sockets are live, over all namespaces.
    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether no socket is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Logs `Active connections: N` at every tick of `every`, until the handle is aborted.
    pub(crate) fn spawn_active_log(&self, every: std::time::Duration) -> tokio::task::AbortHandle {
        let every = every.max(std::time::Duration::from_millis(10));
        let registry = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                tracing::info!(
                    connections = registry.len(),
                    "Active connections: {}",
                    registry.len()
                );
            }
        })
        .abort_handle()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        // A panic while holding the lock cannot leave the map half-written: every write is one call.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

mod unix_millis {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let millis = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        s.serialize_u64(millis as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ns: &str, id: &str) -> ConnectionInfo {
        ConnectionInfo {
            id: id.into(),
            connection: 0,
            ns: ns.into(),
            peer: None,
            user_agent: None,
            identity: None,
            connected_at: SystemTime::now(),
        }
    }

    #[test]
    fn same_socket_id_in_two_namespaces_is_two_entries() {
        let registry = ConnectionRegistry::default();
        registry.insert(info("/", "a"));
        registry.insert(info("/chat", "a"));
        assert_eq!(registry.len(), 2);
        assert!(registry.remove("/", "a").is_some());
        assert_eq!(
            registry.get("/chat", "a").map(|c| c.ns),
            Some("/chat".into())
        );
        assert!(registry.remove("/", "a").is_none());
    }

    #[test]
    fn a_second_insert_of_one_socket_replaces_the_first() {
        let registry = ConnectionRegistry::default();
        registry.insert(info("/", "a"));
        let mut again = info("/", "a");
        again.user_agent = Some("second".into());
        registry.insert(again);
        assert_eq!(registry.len(), 1);
        assert_eq!(
            registry.get("/", "a").and_then(|c| c.user_agent),
            Some("second".into())
        );
    }

    #[test]
    fn the_table_shrinks_when_most_sockets_have_left() {
        let registry = ConnectionRegistry::default();
        let ids: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        ids.iter().for_each(|id| registry.insert(info("/", id)));
        let full = registry.read().entries.capacity();
        ids[..990]
            .iter()
            .for_each(|id| assert!(registry.remove("/", id).is_some()));
        assert!(registry.read().entries.capacity() < full / 4);
        ids[990..]
            .iter()
            .for_each(|id| assert!(registry.get("/", id).is_some(), "{id} kept"));
    }

    #[test]
    fn serializes_connected_at_as_unix_millis() {
        let mut c = info("/", "a");
        c.connected_at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1500);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["connected_at"], 1500);
    }
}
