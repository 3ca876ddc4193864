//! Redis going away and coming back under a running two-node cluster: nodes stay up, local delivery
//! continues, cluster calls fail fast, cross-node delivery resumes after restart with no node restarted.

use std::time::Duration;

use iostack::{App, extract::AckSender};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{TestClient, TestServer, services::RedisServer};

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_redis_outage_and_resume_cross_node_delivery() {
    let redis = RedisServer::start().await.unwrap();
    let port = redis.port();
    let url = redis.url();
    let config = || {
        RedisConfig::new(url.clone())
            .request_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_millis(500))
    };
    let build = || async {
        App::builder(())
            .adapter(RedisAdapter::new(config()))
            .on(
                "ping",
                async |ack: AckSender<iostack_redis::RedisIoAdapter>| {
                    let _ = ack.send(&"pong");
                },
            )
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
    on_a.emit_with_ack("ping", json!(null)).await.unwrap();
    on_b.emit_with_ack("ping", json!(null)).await.unwrap();
    io_a.emit("hello", &1).await.unwrap();
    assert_eq!(
        on_b.wait_for("hello").await.unwrap(),
        vec![json!(1)],
        "cross-node before the outage"
    );
    on_a.wait_for("hello").await.unwrap();

    redis.stop();

    // Local delivery goes on; the node keeps serving; cluster calls fail instead of hanging.
    io_a.emit("local", &2).await.unwrap();
    assert_eq!(on_a.wait_for("local").await.unwrap(), vec![json!(2)]);
    assert_eq!(
        on_a.emit_with_ack("ping", json!(null)).await.unwrap(),
        json!(["pong"])
    );
    let fetched = tokio::time::timeout(
        Duration::from_secs(10),
        io_a.socketio().broadcast().fetch_sockets(),
    )
    .await;
    assert!(
        matches!(fetched, Ok(Err(_))),
        "fetch_sockets fails within its timeout while Redis is down"
    );
    assert!(matches!(
        monitor_a.json().await["health"]["status"].as_str(),
        Some("down")
    ));

    let _redis = RedisServer::start_on(port).await.unwrap();

    // Cross-node delivery resumes without restarting any node (bounded retries on real deliveries).
    let resumed = tokio::time::timeout(Duration::from_secs(5), async {
        for n in 0u32.. {
            let _ = io_a.emit("again", &n).await;
            if tokio::time::timeout(Duration::from_millis(250), on_b.wait_for("again"))
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    assert!(resumed.is_ok(), "cross-node delivery resumed within 5 s");
    assert_eq!(monitor_a.json().await["health"]["status"], "up");
}
