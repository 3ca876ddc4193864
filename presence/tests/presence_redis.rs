//! Presence across two nodes sharing a throwaway Redis: online once, offline after the last tab.

mod support;

use std::time::Duration;

use iostack_core::App;
use iostack_middleware::auth::AuthLayer;
use iostack_presence::Presence;
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{TestServer, services::RedisServer};
use serde_json::json;
use support::{Tokens, client};

async fn node(redis: &RedisServer) -> TestServer {
    let app = App::builder(())
        .adapter(RedisAdapter::new(RedisConfig::new(redis.url())))
        .on_connect(AuthLayer::new(Tokens))
        .hooks(Presence::new().heartbeat(Duration::from_millis(500)))
        .build()
        .await
        .expect("node builds");
    TestServer::start(app).await.expect("node starts")
}

#[tokio::test]
async fn tabs_on_two_nodes_count_once_cluster_wide() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut watcher = client(&a.url(), "w:Watcher").await;
    watcher
        .emit_with_ack("presence:subscribe", json!({}))
        .await
        .unwrap();

    let tab_b = client(&b.url(), "1:Ada").await;
    assert_eq!(
        watcher.wait_for("presence:online").await.unwrap(),
        vec![json!({ "userId": "1", "username": "Ada" })]
    );
    let tab_a = client(&a.url(), "1:Ada").await;
    let listed = tab_a
        .emit_with_ack("presence:list", json!(null))
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!([[{ "userId": "1", "username": "Ada" }, { "userId": "w", "username": "Watcher" }]])
    );
    watcher
        .expect_none("presence:online", Duration::from_millis(500))
        .await
        .expect("the second tab, on the other node, is not announced");

    tab_b.disconnect().await.unwrap();
    watcher
        .expect_none("presence:offline", Duration::from_millis(1200))
        .await
        .expect("a tab on node a is left: still online, also through heartbeats");
    tab_a.disconnect().await.unwrap();
    assert_eq!(
        watcher.wait_for("presence:offline").await.unwrap(),
        vec![json!({ "userId": "1" })]
    );
}
