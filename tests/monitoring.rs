//! Monitoring routes over real HTTP, with real Socket.IO clients connected.

mod common;

use iostack::{
    App,
    middleware::event_stats::{EventStats, EventStatsLayer},
    monitoring::Access,
    rooms::AutoJoinLayer,
    rooms::RoomRules,
};
use iostack_testing::{TestClient, TestServer};
use serde_json::{Value, json};
use tower::ServiceBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_metrics_describe_live_connections_behind_a_check() {
    let events = EventStats::new();
    let app = App::builder(())
        .on_connect(
            ServiceBuilder::new()
                .layer(common::token_auth())
                .layer(AutoJoinLayer::new(RoomRules::new())),
        )
        .on_event(EventStatsLayer::new(events.clone()))
        .on("ping", async |ack: iostack::extract::AckSender| {
            let _ = ack.send(&"pong");
        })
        .build()
        .await
        .unwrap();
    let monitor = app.monitor().with_source(events);
    let io = app.io().clone();
    let app = app.merge(monitor.router(Access::bearer("s3cret")));
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": "user:3:admin" }))
        .header("User-Agent", "monitor-test")
        .connect()
        .await
        .unwrap();
    client.emit_with_ack("ping", json!(null)).await.unwrap();

    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.url());
    let refused = http.get(url("/stats")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let refused = http
        .get(url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let stats: Value = http
        .get(url("/stats"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["adapter"], "memory");
    assert_eq!(stats["health"]["status"], "up");
    assert_eq!(stats["connections"]["count"], 1);
    assert_eq!(stats["connections"]["cluster_count"], 1);
    let socket = &stats["connections"]["sockets"][0];
    assert_eq!(socket["connection"], 1);
    let listed = io.connections();
    assert!(
        !stats.to_string().contains(&listed[0].id),
        "the session id, a credential, is never shown"
    );
    assert_eq!(socket["ns"], "/");
    assert_eq!(socket["user_agent"], "monitor-test");
    assert_eq!(socket["identity"]["id"], "3");
    assert_eq!(socket["rooms"], json!(["role-admin", "user-3"]));
    assert!(socket["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        stats["events"]["scope"], "node",
        "event counts say they are this node's"
    );
    assert_eq!(stats["events"]["total"], 1);
    assert_eq!(
        stats["events"]["counts"],
        json!([{ "event": "ping", "count": 1 }])
    );

    let metrics = http
        .get(url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "iostack_connections 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "iostack_adapter_up{adapter=\"memory\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "iostack_events_total{event=\"ping\"} 1"),
        "{metrics}"
    );

    client.disconnect().await.unwrap();
    // The registry forgets the socket once its disconnect is handled.
    tokio::time::timeout(iostack_testing::WAIT, io.registry().wait_until_empty())
        .await
        .expect("connection leaves the statistics");
    assert_eq!(monitor.connection_stats().await.count, 0);
}
