//! Subscriptions across two nodes sharing a throwaway Redis: a change published on one node
//! reaches the matching subscribers of the other, each with the fields it may read.

mod support;

use iostack_core::{App, Io};
use iostack_middleware::auth::AuthLayer;
use iostack_presence::{Action, Permissions, Subscriptions};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{TestServer, services::RedisServer};
use serde_json::json;
use support::{Tokens, article, article_policy, client, received};

struct Node {
    server: TestServer,
    io: Io,
    subs: Subscriptions,
}

async fn node(redis: &RedisServer) -> Node {
    // Every node runs the same policy: the publishing node decides for every subscriber.
    let subs = Subscriptions::new(Permissions::new(article_policy()));
    let app = App::builder(())
        .adapter(RedisAdapter::new(RedisConfig::new(redis.url())))
        .on_connect(AuthLayer::new(Tokens))
        .hooks(subs.clone())
        .build()
        .await
        .expect("node builds");
    let io = app.io().clone();
    Node {
        server: TestServer::start(app).await.expect("node starts"),
        io,
        subs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_published_on_one_node_reach_the_subscribers_of_the_other() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut editor = client(&b.server.url(), "1:Ed:editor").await;
    let mut by_entry = client(&b.server.url(), "2:Ed2:editor").await;
    let mut reader = client(&b.server.url(), "3:Rea:reader").await;
    for (client, spec) in [
        (&editor, json!({ "type": "article" })),
        (&by_entry, json!({ "type": "article", "id": 2 })),
        (&reader, json!({ "type": "article" })),
    ] {
        let ack = client.emit_with_ack("subscribe", spec).await.unwrap();
        assert!(ack[0]["subscription"].is_string(), "{ack}");
    }

    for (action, entry) in [
        (Action::Create, article(1, "draft")),
        (Action::Update, article(2, "published")),
        (Action::Delete, article(2, "published")),
    ] {
        a.subs.publish("article", action, &entry).await.unwrap();
    }
    a.io.emit("marker", &json!(null)).await.unwrap();

    let full = |a: &str, id, s| json!([a, { "type": "article", "data": article(id, s) }]);
    assert_eq!(
        received(&mut editor).await,
        vec![
            full("create", 1, "draft"),
            full("update", 2, "published"),
            full("delete", 2, "published")
        ]
    );
    assert_eq!(
        received(&mut by_entry).await,
        vec![
            full("update", 2, "published"),
            full("delete", 2, "published")
        ]
    );
    let public = json!({ "id": 2, "status": "published", "title": "t2" });
    assert_eq!(
        received(&mut reader).await,
        vec![
            json!(["update", { "type": "article", "data": public }]),
            json!(["delete", { "type": "article", "data": public }])
        ],
        "a reader on the other node hears of published articles only, without internal notes"
    );
}
