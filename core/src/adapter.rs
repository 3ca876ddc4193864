//! The [`Adapter`] trait: how many iostack nodes act as one.
//!
//! An adapter installs a socketioxide adapter into the server being built. The memory adapter
//! (crate `iostack-memory`) keeps everything in the process; the Redis and MongoDB adapters share
//! rooms, broadcasts and socket look-ups between nodes through their store.

use std::{fmt, future::Future, pin::Pin};

use socketioxide::adapter::Emitter;
use socketioxide_core::adapter::CoreAdapter;

use crate::{any_adapter::AnyState, delivery::Deliveries};

/// The init result of a socketioxide adapter `A` for one namespace.
pub type NamespaceInit<A> = <A as CoreAdapter<Emitter>>::InitRes;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an adapter could not be installed or could not serve a cluster-wide call.
///
/// Its `Display` never carries a password: adapters redact URLs before building one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AdapterError(pub String);

impl AdapterError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// `url` with the password of `scheme://user:password@host` replaced by `***`, for logs and errors.
///
/// ```
/// use iostack_core::redact_url;
///
/// assert_eq!(redact_url("redis://:s3cret@host:6379/0"), "redis://:***@host:6379/0");
/// assert_eq!(redact_url("mongodb://app:s3cret@db/?replicaSet=rs0"), "mongodb://app:***@db/?replicaSet=rs0");
/// assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials
        .split_once(':')
        .map_or(credentials, |(user, _)| user);
    let redacted = if credentials.contains(':') {
        format!("{user}:***")
    } else {
        "***".into()
    };
    format!("{scheme}://{redacted}@{host}{tail}")
}

/// Whether `payload` is a plain broadcast request of socketioxide's remote adapters
/// (`[node id, request id, type 0, ...]` in MessagePack).
///
/// socketioxide-redis and socketioxide-mongodb deliver a broadcast to the local sockets only after
/// the store accepted it; a driver that cannot reach its store reports such a request as sent (and
/// counts it) so that this node's clients still get it. Every other request must fail.
pub fn is_remote_broadcast(payload: &[u8]) -> bool {
    const BROADCAST: u8 = 0;
    let mut rd = payload;
    let Ok(len) = rmp::decode::read_array_len(&mut rd) else {
        return false;
    };
    let mut buf = [0u8; 64];
    len >= 3
        && rmp::decode::read_str(&mut rd, &mut buf).is_ok()
        && rmp::decode::read_str(&mut rd, &mut buf).is_ok()
        && rmp::decode::read_int::<u8, _>(&mut rd).is_ok_and(|t| t == BROADCAST)
}

/// The state of an adapter's backing store, as reported by monitoring.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Health {
    /// The store answers (or there is none to answer).
    Up,
    /// The store is unreachable; local delivery goes on. The text says why.
    Down(String),
}

/// A backend that lets many iostack nodes act as one, installed by
/// [`AppBuilder::adapter`](crate::AppBuilder::adapter).
///
/// Implemented by `iostack_memory::MemoryAdapter`, `iostack_redis::RedisAdapter` and
/// `iostack_mongo::MongoAdapter`; a backend crate depends on core, never the other way round.
/// The app runs the backend's socketioxide adapter behind [`AnyAdapter`](crate::AnyAdapter), so
/// handlers never name it.
#[async_trait::async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The socketioxide adapter this backend runs in every namespace.
    type Io: socketioxide::adapter::Adapter;

    /// Short name reported by [`Io::adapter_name`](crate::Io::adapter_name): `"memory"`, `"redis"`, `"mongo"`.
    fn name(&self) -> &'static str;

    /// Connects to the store and returns the state every namespace's adapter is built from.
    async fn install(&self) -> Result<IoState<Self::Io>, AdapterError>;

    /// Waits for a namespace of this adapter to be ready (e.g. subscribed to its channels).
    fn init_namespace(
        init: NamespaceInit<Self::Io>,
    ) -> BoxFuture<'static, Result<(), AdapterError>>
    where
        Self: Sized;

    /// The state of the backing store right now.
    async fn health(&self) -> Health;
}

/// The shared state of a socketioxide adapter `A`, returned by [`Adapter::install`].
pub type IoState<A> = <A as CoreAdapter<Emitter>>::State;

/// [`Adapter`] with its type erased, as the app stores it.
#[async_trait::async_trait]
pub(crate) trait DynAdapter: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn install(&self, deliveries: Deliveries) -> Result<AnyState, AdapterError>;
    async fn health(&self) -> Health;
}

#[async_trait::async_trait]
impl<T: Adapter> DynAdapter for T {
    fn name(&self) -> &'static str {
        Adapter::name(self)
    }
    async fn install(&self, deliveries: Deliveries) -> Result<AnyState, AdapterError> {
        let state = Adapter::install(self).await?;
        Ok(AnyState::new::<T::Io>(state, T::init_namespace, deliveries))
    }
    async fn health(&self) -> Health {
        Adapter::health(self).await
    }
}

/// The adapter an app uses when none is installed: socketioxide's in-process `LocalAdapter`,
/// reported as `"memory"` like `iostack_memory::MemoryAdapter`.
pub(crate) struct DefaultLocal;

#[async_trait::async_trait]
impl Adapter for DefaultLocal {
    type Io = socketioxide::adapter::LocalAdapter;
    fn name(&self) -> &'static str {
        "memory"
    }
    async fn install(&self) -> Result<(), AdapterError> {
        Ok(())
    }
    fn init_namespace(_: ()) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(std::future::ready(Ok(())))
    }
    async fn health(&self) -> Health {
        Health::Up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u8) -> Vec<u8> {
        let mut payload = Vec::new();
        rmp::encode::write_array_len(&mut payload, 5).unwrap();
        rmp::encode::write_str(&mut payload, "AAAAAAAAAAAAAAAA").unwrap();
        rmp::encode::write_str(&mut payload, "BBBBBBBBBBBBBBBB").unwrap();
        rmp::encode::write_uint(&mut payload, u64::from(kind)).unwrap();
        payload
    }

    #[test]
    fn recognises_broadcast_requests_only() {
        assert!(is_remote_broadcast(&request(0)));
        assert!(!is_remote_broadcast(&request(6)));
        assert!(!is_remote_broadcast(b"garbage"));
        assert!(!is_remote_broadcast(&[]));
    }
}
