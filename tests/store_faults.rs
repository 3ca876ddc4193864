//! The store going away under a running two-node cluster, for each remote adapter: nodes stay up and
//! serve, local delivery continues, cluster calls fail within their timeout, health reports it; after a
//! restart, cross-node delivery resumes with no node restarted.

use std::time::Duration;

use iostack::{Adapter, App, extract::AckSender, monitoring::Monitor};
use iostack_mongo::{MongoAdapter, MongoConfig};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{
    TestClient, TestServer,
    services::{MongoServer, RedisCluster, RedisServer},
};
use serde_json::json;

/// A backing store the test can take down and bring back.
trait Store {
    fn url(&self) -> String;
    fn kill(&mut self);
    async fn restart(&mut self);
}

impl Store for RedisServer {
    fn url(&self) -> String {
        RedisServer::url(self)
    }
    fn kill(&mut self) {
        RedisServer::kill(self)
    }
    async fn restart(&mut self) {
        RedisServer::restart(self).await.unwrap()
    }
}

/// Its URL is every node's, comma-separated.
impl Store for RedisCluster {
    fn url(&self) -> String {
        self.urls().join(",")
    }
    fn kill(&mut self) {
        RedisCluster::kill(self)
    }
    async fn restart(&mut self) {
        RedisCluster::restart(self).await.unwrap()
    }
}

impl Store for MongoServer {
    fn url(&self) -> String {
        MongoServer::url(self)
    }
    fn kill(&mut self) {
        MongoServer::kill(self)
    }
    async fn restart(&mut self) {
        MongoServer::restart(self).await.unwrap()
    }
}

/// Polls `monitor` until its health is `status`, for at most 30 s (one PING may be slow under load).
async fn wait_for_health(monitor: &Monitor, status: &str) {
    let mut last = serde_json::Value::Null;
    let mut polls = tokio::time::interval(Duration::from_millis(100));
    let reached = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            polls.tick().await;
            last = monitor.json().await["health"].take();
            if last["status"] == status {
                return;
            }
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "health did not become `{status}` within 30 s; last: {last}"
    );
}

async fn survives_outage<AD: Adapter>(mut store: impl Store, adapter: impl Fn(String) -> AD) {
    let build = || async {
        App::builder(())
            .adapter(adapter(store.url()))
            .on("ping", async |ack: AckSender| {
                let _ = ack.send(&"pong");
            })
            .build()
            .await
            .unwrap()
    };
    let (a, b) = (build().await, build().await);
    let (io_a, monitor_a) = (a.io().clone(), a.monitor());
    let (server_a, server_b) = (
        TestServer::start(a).await.unwrap(),
        TestServer::start(b).await.unwrap(),
    );
    let mut on_a = TestClient::connect(&server_a.url()).await.unwrap();
    let mut on_b = TestClient::connect(&server_b.url()).await.unwrap();
    on_b.emit_with_ack("ping", json!(null)).await.unwrap();
    io_a.emit("hello", &1).await.unwrap();
    assert_eq!(
        on_b.wait_for("hello").await.unwrap(),
        vec![json!(1)],
        "cross-node before the outage"
    );
    on_a.wait_for("hello").await.unwrap();

    store.kill();

    assert_eq!(
        on_a.emit_with_ack("ping", json!(null)).await.unwrap(),
        json!(["pong"]),
        "the node serves"
    );
    io_a.emit("local", &2).await.unwrap();
    assert_eq!(
        on_a.wait_for("local").await.unwrap(),
        vec![json!(2)],
        "local delivery continues"
    );
    let fetched = tokio::time::timeout(
        Duration::from_secs(15),
        io_a.socketio().broadcast().fetch_sockets(),
    )
    .await;
    assert!(
        matches!(fetched, Ok(Err(_))),
        "fetch_sockets fails within its timeout while the store is down"
    );
    wait_for_health(&monitor_a, "down").await;

    store.restart().await;
    // Bounded retries on real deliveries, no fixed sleep.
    let resumed = tokio::time::timeout(Duration::from_secs(30), async {
        for n in 0u32.. {
            let _ = io_a.emit("again", &n).await;
            if tokio::time::timeout(Duration::from_millis(300), on_b.wait_for("again"))
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    assert!(
        resumed.is_ok(),
        "cross-node delivery resumed after the restart"
    );
    wait_for_health(&monitor_a, "up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_redis_outage() {
    let redis = RedisServer::start().await.unwrap();
    survives_outage(redis, |url| {
        RedisAdapter::new(
            RedisConfig::new(url)
                .request_timeout(Duration::from_secs(1))
                .connect_timeout(Duration::from_secs(2)),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_redis_cluster_outage() {
    let redis = RedisCluster::start().await.unwrap();
    survives_outage(redis, |urls| {
        RedisAdapter::new(
            RedisConfig::cluster(urls.split(','))
                .request_timeout(Duration::from_secs(1))
                .connect_timeout(Duration::from_secs(2)),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_mongo_outage() {
    let mongo = MongoServer::start().await.unwrap();
    survives_outage(mongo, |url| {
        MongoAdapter::new(
            MongoConfig::new(url)
                .request_timeout(Duration::from_secs(1))
                .connect_timeout(Duration::from_secs(2)),
        )
    })
    .await;
}
