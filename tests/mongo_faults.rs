//! The MongoDB-compatible server going away under a running two-node cluster: nodes stay up, local
//! delivery continues, cluster calls fail within their timeout; after a restart, cross-node delivery
//! resumes with no node restarted.

use std::time::Duration;

use iostack::{App, extract::AckSender};
use iostack_mongo::{MongoAdapter, MongoConfig, MongoIoAdapter};
use iostack_testing::{TestClient, TestServer, services::MongoServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_mongo_outage() {
    let mut mongo = MongoServer::start().await.unwrap();
    let build = || async {
        let config = MongoConfig::new(mongo.url())
            .request_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_millis(500));
        App::builder(())
            .adapter(MongoAdapter::new(config))
            .on("ping", async |ack: AckSender<MongoIoAdapter>| {
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

    mongo.kill();

    assert_eq!(
        on_a.emit_with_ack("ping", json!(null)).await.unwrap(),
        json!(["pong"]),
        "node serves"
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
        "fetch_sockets fails within its timeout while MongoDB is down"
    );
    assert_eq!(monitor_a.json().await["health"]["status"], "down");

    mongo.restart().await.unwrap();
    let resumed = tokio::time::timeout(Duration::from_secs(10), async {
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
    assert_eq!(monitor_a.json().await["health"]["status"], "up");
}
