//! One cluster test suite, run for every adapter: several nodes in this process, real clients spread
//! across them, a real store behind them (memory: one node, where cross-node checks reduce to local).

mod common;

use std::time::Duration;

use iostack::{
    Adapter, App, Io,
    extract::{AckSender, Data, SocketRef},
    memory::MemoryAdapter,
    rooms::{AutoJoinLayer, RoomRules},
};
use iostack_mongo::{MongoAdapter, MongoConfig};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{
    RawClient, TestClient, TestServer,
    services::{MongoServer, RedisCluster, RedisServer},
};
use serde_json::json;
use tower::ServiceBuilder;

struct Node {
    server: TestServer,
    io: Io,
}

async fn node(adapter: impl Adapter) -> Node {
    let app = App::builder(())
        .adapter(adapter)
        .on_connect(
            ServiceBuilder::new()
                .layer(common::token_auth())
                .layer(AutoJoinLayer::new(RoomRules::new())),
        )
        .on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&true);
            },
        )
        .on("id", async |socket: SocketRef, ack: AckSender| {
            let _ = ack.send(&socket.id.to_string());
        })
        .build()
        .await
        .expect("node builds");
    let io = app.io().clone();
    Node {
        server: TestServer::start(app).await.unwrap(),
        io,
    }
}

/// Three nodes, each with its own `adapter()`.
async fn three_nodes<AD: Adapter>(adapter: impl Fn() -> AD) -> [Node; 3] {
    [
        node(adapter()).await,
        node(adapter()).await,
        node(adapter()).await,
    ]
}

async fn client(node: &Node, token: &str) -> (TestClient, String) {
    let client = TestClient::builder(node.server.url())
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap();
    let id = client.emit_with_ack("id", json!(null)).await.unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    (client, id)
}

/// The whole suite on `nodes` (clients go to node `i % nodes.len()`).
async fn cluster_suite(nodes: &[Node]) {
    let at = |i: usize| &nodes[i % nodes.len()];
    let (mut c0, _) = client(at(0), "user:1:admin").await;
    let (mut c1, c1_id) = client(at(1), "user:2").await;
    let (mut c2, _) = client(at(2), "user:3").await;

    // Broadcast from one node reaches every client.
    at(0).io.emit("news", &1).await.unwrap();
    for c in [&mut c0, &mut c1, &mut c2] {
        assert_eq!(c.wait_for("news").await.unwrap(), vec![json!(1)]);
    }

    // Room emit crossing nodes, and `except`.
    c0.emit_with_ack("join", "r").await.unwrap();
    c2.emit_with_ack("join", "r").await.unwrap();
    at(1).io.to("r").emit("room", &"hi").await.unwrap();
    at(1)
        .io
        .socketio()
        .except("r")
        .emit("outside", &"psst")
        .await
        .unwrap();
    at(1).io.emit("marker", &0).await.unwrap();
    for c in [&mut c0, &mut c2] {
        assert_eq!(c.wait_for("room").await.unwrap(), vec![json!("hi")]);
        c.wait_for("marker").await.unwrap();
        assert!(
            c.expect_none("outside", Duration::ZERO).await.is_ok(),
            "`except` excluded room members"
        );
    }
    assert_eq!(c1.wait_for("outside").await.unwrap(), vec![json!("psst")]);
    c1.wait_for("marker").await.unwrap();
    assert!(
        c1.expect_none("room", Duration::ZERO).await.is_ok(),
        "room emit skipped non-members"
    );

    // fetch_sockets sees every socket of the cluster, with its rooms; room member count.
    let all = at(1)
        .io
        .socketio()
        .broadcast()
        .fetch_sockets()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let in_room = at(0).io.to("r").fetch_sockets().await.unwrap();
    assert_eq!(in_room.len(), 2);
    let remote = at(1).io.to("user-3").fetch_sockets().await.unwrap();
    let mut rooms: Vec<String> = remote[0]
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.to_string())
        .collect();
    rooms.sort();
    assert_eq!(rooms, ["r", "user-3"]);

    // Remote join and leave.
    at(0).io.to("user-2").join("vip").await.unwrap();
    at(2).io.to("vip").emit("vip", &1).await.unwrap();
    assert_eq!(c1.wait_for("vip").await.unwrap(), vec![json!(1)]);
    at(0).io.to("user-2").leave("vip").await.unwrap();
    at(2).io.to("vip").emit("vip", &2).await.unwrap();
    at(2).io.emit("marker", &1).await.unwrap();
    c1.wait_for("marker").await.unwrap();
    assert!(
        c1.expect_none("vip", Duration::ZERO).await.is_ok(),
        "left the room"
    );

    // A socket on another node answers an ack the server asked for.
    let addr = at(1).server.addr();
    let mut raw = RawClient::connect(addr, Some(r#"{"token":"user:9"}"#)).await;
    let answering = tokio::spawn(async move {
        loop {
            if let (Some(id), event) = raw.next_event().await {
                assert_eq!(event, r#"["question",1]"#);
                raw.ack(id, r#"["answer from 9"]"#).await;
                return raw;
            }
        }
    });
    let acks = at(0)
        .io
        .to("user-9")
        .timeout(Duration::from_secs(10))
        .emit_with_ack::<_, serde_json::Value>("question", &1)
        .await
        .unwrap();
    let answers: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(acks).await;
    assert_eq!(answers.len(), 1, "one socket answered");
    assert_eq!(answers[0].1.as_ref().unwrap(), &json!("answer from 9"));
    drop(answering.await.unwrap());

    // Helpers act cluster-wide: role broadcast, kick by user, disconnect by socket id.
    at(2)
        .io
        .broadcast_to_role("admin", "for-admins", &"x")
        .await
        .unwrap();
    assert_eq!(c0.wait_for("for-admins").await.unwrap(), vec![json!("x")]);
    assert!(at(0).io.kick_user("3", "bye").await.unwrap());
    assert_eq!(
        c2.wait_for("kicked").await.unwrap(),
        vec![json!({ "reason": "bye" })]
    );
    c2.wait_for("disconnect").await.unwrap();
    assert!(
        at(0)
            .io
            .disconnect_socket(&c1_id, "maintenance")
            .await
            .unwrap()
    );
    assert_eq!(
        c1.wait_for("server:disconnect").await.unwrap(),
        vec![json!({ "reason": "maintenance" })]
    );
    c1.wait_for("disconnect").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_suite_on_memory_single_node() {
    let nodes = [node(MemoryAdapter::new()).await];
    assert_eq!(nodes[0].io.adapter_name(), "memory");
    cluster_suite(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_suite_on_redis_three_nodes() {
    let redis = RedisServer::start().await.unwrap();
    let adapter = || {
        RedisAdapter::new(RedisConfig::new(redis.url()).request_timeout(Duration::from_secs(10)))
    };
    let nodes = three_nodes(adapter).await;
    assert_eq!(nodes[0].io.adapter_name(), "redis");
    cluster_suite(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_suite_on_a_three_shard_redis_cluster() {
    let redis = RedisCluster::start().await.unwrap();
    let adapter = || {
        RedisAdapter::new(
            RedisConfig::cluster(redis.urls()).request_timeout(Duration::from_secs(10)),
        )
    };
    let nodes = three_nodes(adapter).await;
    assert_eq!(nodes[0].io.adapter_name(), "redis");
    cluster_suite(&nodes).await;

    let channels = |kind: &str| {
        redis
            .ports()
            .into_iter()
            .flat_map(|port| redis_cli(port, &["PUBSUB", kind]))
            .collect::<Vec<_>>()
    };
    assert!(
        channels("SHARDCHANNELS")
            .iter()
            .any(|c| c.starts_with("socket.io")),
        "the adapter listens on sharded channels"
    );
    assert_eq!(
        channels("CHANNELS"),
        Vec::<String>::new(),
        "and on no classic channel"
    );
}

/// The lines `redis-cli` prints for `args` sent to the server on `port`.
fn redis_cli(port: u16, args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_suite_on_mongo_three_nodes() {
    let mongo = MongoServer::start().await.unwrap();
    let adapter = || {
        MongoAdapter::new(MongoConfig::new(mongo.url()).request_timeout(Duration::from_secs(10)))
    };
    let nodes = three_nodes(adapter).await;
    assert_eq!(nodes[0].io.adapter_name(), "mongo");
    cluster_suite(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_fails_build_naming_the_url_without_password() {
    let port = iostack_testing::services::free_port().unwrap();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let err = App::builder(())
        .adapter(RedisAdapter::new(RedisConfig::new(url)))
        .build()
        .await
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(
        message.contains(&format!("redis://:***@127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_capped_collection_mode_carries_broadcasts() {
    let mongo = MongoServer::start().await.unwrap();
    let adapter = || {
        MongoAdapter::new(
            MongoConfig::new(mongo.url())
                .collection("capped-events")
                .expiration(iostack_mongo::Expiration::Capped(1 << 20)),
        )
    };
    let nodes = [node(adapter()).await, node(adapter()).await];
    let (mut far, _) = client(&nodes[1], "user:1").await;
    nodes[0].io.emit("news", &"capped").await.unwrap();
    assert_eq!(far.wait_for("news").await.unwrap(), vec![json!("capped")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_mongo_fails_build_naming_the_url_without_password() {
    let port = iostack_testing::services::free_port().unwrap();
    let url = format!("mongodb://app:hunter2@127.0.0.1:{port}/?directConnection=true");
    let config = MongoConfig::new(url).connect_timeout(Duration::from_millis(500));
    let err = App::builder(())
        .adapter(MongoAdapter::new(config))
        .build()
        .await
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(
        message.contains(&format!("mongodb://app:***@127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

/// A node whose namespaces have no auto-join layer: `/` and `/chat` inside the app's token
/// check, `/admin` outside it with a check of its own.
async fn bare_node(adapter: RedisAdapter) -> Node {
    let app = App::builder(())
        .adapter(adapter)
        .on_connect(common::token_auth())
        .namespace("/chat", |ns| ns)
        .public_namespace("/admin", |ns| ns.on_connect(common::token_auth()))
        .build()
        .await
        .expect("node builds");
    let io = app.io().clone();
    Node {
        server: TestServer::start(app).await.unwrap(),
        io,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_reach_a_user_in_every_namespace_across_two_redis_nodes() {
    let redis = RedisServer::start().await.unwrap();
    let adapter = || RedisAdapter::new(RedisConfig::new(redis.url()));
    let (a, b) = (bare_node(adapter()).await, bare_node(adapter()).await);
    let mut sockets = Vec::new();
    for ns in ["/", "/chat", "/admin"] {
        let client = TestClient::builder(b.server.url())
            .namespace(ns)
            .auth(json!({ "token": "user:7:ops" }))
            .connect()
            .await
            .unwrap();
        sockets.push((ns, client));
    }

    a.io.broadcast_to_role("ops", "page", &json!({ "level": "high" }))
        .await
        .unwrap();
    for (ns, client) in &mut sockets {
        assert_eq!(
            client.wait_for("page").await.unwrap(),
            vec![json!({ "level": "high" })],
            "role broadcast reaches {ns}"
        );
    }
    assert!(a.io.kick_user("7", "Violation of terms").await.unwrap());
    for (ns, client) in &mut sockets {
        let events = client.events_until("disconnect").await.unwrap();
        let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["kicked", "disconnect"], "kick reaches {ns}");
        assert_eq!(
            events[0].args,
            vec![json!({ "reason": "Violation of terms" })]
        );
    }
    assert!(
        !a.io.kick_user("7", "again").await.unwrap(),
        "nothing left to kick"
    );
}
