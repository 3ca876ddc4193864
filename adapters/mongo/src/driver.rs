//! A socketioxide-mongodb driver that keeps local delivery going while MongoDB is unreachable.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use socketioxide_mongodb::drivers::{Driver, Item, ItemHeader, mongodb::MongoDbDriver};

/// The driver installed by [`MongoAdapter`](crate::MongoAdapter): the official one, except that a
/// broadcast that cannot reach MongoDB is reported as sent (logged and counted), because
/// socketioxide-mongodb delivers to this node's sockets only after a successful insert. Every other
/// request fails as usual.
#[derive(Debug, Clone)]
pub struct ResilientDriver {
    pub(crate) inner: MongoDbDriver,
    pub(crate) dropped_broadcasts: Arc<AtomicU64>,
}

impl Driver for ResilientDriver {
    type Error = <MongoDbDriver as Driver>::Error;
    type EvStream = <MongoDbDriver as Driver>::EvStream;

    async fn watch(
        &self,
        server_id: socketioxide_core::Uid,
        ns: &str,
    ) -> Result<Self::EvStream, Self::Error> {
        self.inner.watch(server_id, ns).await
    }

    async fn emit(&self, item: &Item) -> Result<(), Self::Error> {
        match self.inner.emit(item).await {
            Err(e)
                if matches!(item.header, ItemHeader::Req { .. })
                    && iostack_core::is_remote_broadcast(&item.data) =>
            {
                let dropped = self.dropped_broadcasts.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    dropped,
                    "mongo unreachable, broadcast delivered to this node only: {e}"
                );
                Ok(())
            }
            other => other,
        }
    }
}
