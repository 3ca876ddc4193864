//! MongoDB adapter for [iostack](https://docs.rs/iostack): nodes sharing one MongoDB replica set act as
//! one server. Messages between nodes are documents of one collection, read through a change stream.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_mongo::MongoAdapter;
//!
//! # async fn run() -> Result<(), iostack_core::BuildError> {
//! let app = App::builder(()).adapter(MongoAdapter::from_env()).build().await?;
//! assert_eq!(app.io().adapter_name(), "mongo");
//! # Ok(()) }
//! ```
//!
//! Needs a replica set (change streams do not exist on a standalone server). Old messages are
//! removed by a TTL index (default, 60 s) or bounded by a capped collection. If MongoDB cannot be
//! reached at start, `build()` fails with the URL (password redacted) and the cause. While it is
//! away, nodes stay up, broadcasts still reach this node's clients (the others miss them, which is
//! logged and counted in `health()`), and cluster-wide calls fail within their timeout.

mod driver;

pub use driver::ResilientDriver;

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use iostack_core::{Adapter, AdapterError, BoxFuture, Health, IoState, NamespaceInit};
use socketioxide::adapter::Emitter;
use socketioxide_mongodb::{
    CustomMongoDbAdapter, MessageExpirationStrategy, MongoDbAdapterConfig, MongoDbAdapterCtr,
    drivers::mongodb::MongoDbDriver,
};

/// The MongoDB URL used when `MONGO_URL` is not set.
pub const DEFAULT_MONGO_URL: &str = "mongodb://127.0.0.1:27017/?replicaSet=rs0";

/// The socketioxide adapter installed by [`MongoAdapter`].
pub type MongoIoAdapter = CustomMongoDbAdapter<Emitter, ResilientDriver>;

/// How old messages between nodes are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// A TTL index removes messages older than this (MongoDB sweeps about once a minute).
    Ttl(Duration),
    /// A capped collection of this many bytes keeps only the newest messages.
    Capped(u64),
}

/// Where MongoDB is and how the adapter uses it.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    url: String,
    database: String,
    collection: Cow<'static, str>,
    expiration: Expiration,
    request_timeout: Duration,
    connect_timeout: Duration,
}

impl MongoConfig {
    /// MongoDB at `url`, database `iostack`, collection `socket.io-adapter-events`, TTL 60 s,
    /// 5 s request timeout, 3 s connect timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            database: "iostack".into(),
            collection: Cow::Borrowed("socket.io-adapter-events"),
            expiration: Expiration::Ttl(Duration::from_secs(60)),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
        }
    }

    /// `MONGO_URL` (else [`DEFAULT_MONGO_URL`]), `MONGO_DATABASE` and `MONGO_COLLECTION` when set.
    pub fn from_env() -> Self {
        let mut config =
            Self::new(std::env::var("MONGO_URL").unwrap_or_else(|_| DEFAULT_MONGO_URL.into()));
        if let Ok(database) = std::env::var("MONGO_DATABASE") {
            config.database = database;
        }
        if let Ok(collection) = std::env::var("MONGO_COLLECTION") {
            config.collection = collection.into();
        }
        config
    }

    /// The database holding the collection.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// The collection of messages between nodes: nodes using the same one form one cluster.
    pub fn collection(mut self, collection: impl Into<Cow<'static, str>>) -> Self {
        self.collection = collection.into();
        self
    }

    /// How old messages are removed.
    pub fn expiration(mut self, expiration: Expiration) -> Self {
        self.expiration = expiration;
        self
    }

    /// How long a cluster-wide request waits for the other nodes.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long reaching the server may take at start.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        iostack_core::redact_url(&self.url)
    }
}

/// Connects iostack nodes through a MongoDB replica set.
#[derive(Debug)]
pub struct MongoAdapter {
    config: MongoConfig,
    db: tokio::sync::OnceCell<mongodb::Database>,
    dropped_broadcasts: Arc<AtomicU64>,
}

impl MongoAdapter {
    /// MongoDB as [`MongoConfig::from_env`] says.
    pub fn from_env() -> Self {
        Self::new(MongoConfig::from_env())
    }

    /// MongoDB as `config` says.
    pub fn new(config: MongoConfig) -> Self {
        Self {
            config,
            db: tokio::sync::OnceCell::new(),
            dropped_broadcasts: Arc::default(),
        }
    }

    fn error(&self, cause: impl std::fmt::Display) -> AdapterError {
        AdapterError::new(format!(
            "cannot reach MongoDB at {}: {cause}",
            self.config.redacted_url()
        ))
    }

    async fn ping(&self, db: &mongodb::Database) -> Result<(), String> {
        let ping = db.run_command(mongodb::bson::doc! { "ping": 1 });
        match tokio::time::timeout(self.config.connect_timeout, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer within {:?}",
                self.config.connect_timeout
            )),
        }
    }
}

#[async_trait::async_trait]
impl Adapter for MongoAdapter {
    type Io = MongoIoAdapter;

    fn name(&self) -> &'static str {
        "mongo"
    }

    async fn install(&self) -> Result<IoState<MongoIoAdapter>, AdapterError> {
        let mut options = mongodb::options::ClientOptions::parse(&self.config.url)
            .await
            .map_err(|e| self.error(e))?;
        options.server_selection_timeout = Some(self.config.connect_timeout);
        options.connect_timeout = Some(self.config.connect_timeout);
        let client = mongodb::Client::with_options(options).map_err(|e| self.error(e))?;
        let db = client.database(&self.config.database);
        self.ping(&db).await.map_err(|e| self.error(e))?;
        let strategy = match self.config.expiration {
            Expiration::Ttl(ttl) => MessageExpirationStrategy::TtlIndex(ttl),
            Expiration::Capped(size) => MessageExpirationStrategy::CappedCollection(size),
        };
        let config = MongoDbAdapterConfig::new()
            .with_collection(self.config.collection.clone())
            .with_request_timeout(self.config.request_timeout)
            .with_expiration_strategy(strategy);
        let inner = MongoDbDriver::new(
            db.clone(),
            &self.config.collection,
            &config.expiration_strategy,
        )
        .await
        .map_err(|e| self.error(e))?;
        let driver = ResilientDriver {
            inner,
            dropped_broadcasts: self.dropped_broadcasts.clone(),
        };
        let ctr = MongoDbAdapterCtr::new_with_driver(driver, config);
        let _ = self.db.set(db);
        tracing::info!(url = %self.config.redacted_url(), "mongo adapter connected");
        Ok(ctr)
    }

    fn init_namespace(
        init: NamespaceInit<MongoIoAdapter>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(async move {
            init.await
                .map_err(|e| AdapterError::new(format!("mongo change stream failed: {e}")))
        })
    }

    async fn health(&self) -> Health {
        let Some(db) = self.db.get() else {
            return Health::Down("not connected yet".into());
        };
        match self.ping(db).await {
            Ok(()) => Health::Up,
            Err(e) => Health::Down(format!(
                "mongo at {}: {e} ({} broadcasts delivered locally only)",
                self.config.redacted_url(),
                self.dropped_broadcasts.load(Ordering::Relaxed)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password() {
        let config = MongoConfig::new("mongodb://app:s3cret@db:27017/?replicaSet=rs0");
        assert_eq!(
            config.redacted_url(),
            "mongodb://app:***@db:27017/?replicaSet=rs0"
        );
        assert_eq!(
            MongoConfig::new("mongodb://db:27017").redacted_url(),
            "mongodb://db:27017"
        );
    }
}
