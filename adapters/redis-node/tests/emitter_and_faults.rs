//! `@socket.io/redis-emitter` 5.1 publishing to an iostack node, malformed messages on the channels,
//! and Redis outages.
//!
//! Needs `redis-server`, `node`, and `npm ci` in tests/node-cluster (scripts/test.sh does all).

mod support;

use std::time::Duration;

use iostack_testing::WAIT;
use serde_json::json;
use support::{Mixed, Options, assert_none_before, emitter, join};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_emitter_messages_reach_iostack_clients() {
    let mut m = Mixed::start().await;
    let (mut a, _) = m.rs_client().await;
    let (mut b, _) = m.rs_client().await;
    join(&a, "r").await;

    emitter(
        &m.redis_url(),
        json!([
            {"op": "emit", "event": "all", "args": [1]},
            {"op": "emit", "event": "room", "args": [2], "rooms": ["r"]},
            {"op": "emit", "event": "outside", "args": [3], "except": ["r"]},
            {"op": "socketsJoin", "rooms": ["r"], "join": "vip"},
            {"op": "emit", "event": "vip", "args": [4], "rooms": ["vip"]},
            {"op": "serverSideEmit", "event": "hello", "args": ["from-emitter"]},
            {"op": "emit", "event": "marker", "args": [0]},
        ]),
    )
    .await;
    assert_eq!(a.wait_for("all").await.unwrap(), vec![json!(1)]);
    assert_eq!(a.wait_for("room").await.unwrap(), vec![json!(2)]);
    assert_eq!(a.wait_for("vip").await.unwrap(), vec![json!(4)]);
    assert_none_before(&mut a, "outside", "marker").await;
    assert_eq!(b.wait_for("all").await.unwrap(), vec![json!(1)]);
    assert_eq!(b.wait_for("outside").await.unwrap(), vec![json!(3)]);
    assert_none_before(&mut b, "room", "marker").await;
    let got = tokio::time::timeout(WAIT, m.rs.server_side.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("hello".to_owned(), vec![json!("from-emitter")]));

    emitter(
        &m.redis_url(),
        json!([
            {"op": "socketsLeave", "rooms": ["r"], "leave": "vip"},
            {"op": "emit", "event": "vip", "args": [5], "rooms": ["vip"]},
            {"op": "emit", "event": "marker", "args": [0]},
            {"op": "disconnectSockets", "rooms": ["r"]},
        ]),
    )
    .await;
    assert_none_before(&mut a, "vip", "marker").await;
    a.wait_for("disconnect").await.unwrap();
    m.node.call(json!({"op": "serverCount"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_skipped() {
    // No Node server here: @socket.io/redis-adapter 8.3 itself dies on an undecodable broadcast
    // (notepack's "Could not parse" is thrown from its message handler, uncaught).
    let redis = iostack_testing::services::RedisServer::start()
        .await
        .expect("redis-server must be installed (apt-get install redis-server)");
    let rs = support::iostack_node(&redis.url(), &Options::default()).await;
    let (mut c, _) = support::client_of(&rs.server.url()).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let garbage: [&[u8]; 5] = [
        b"",
        b"\xc1",
        b"{not json",
        b"\x93\xa1x\xc0\xc0",
        b"\xdd\xff\xff\xff\xff",
    ];
    for chan in [
        "socket.io#/#",
        "socket.io-request#/#",
        "socket.io-response#/#",
    ] {
        for bytes in garbage {
            let _: i64 = redis::cmd("PUBLISH")
                .arg(chan)
                .arg(bytes)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
    // Well-formed JSON of the wrong shape, on every request type.
    for kind in 0..12 {
        let wrong_types =
            json!({"type": kind, "uid": 5, "requestId": [], "opts": "x", "rooms": {}, "data": 1});
        let odd_values = json!({"type": kind, "requestId": "x", "rooms": ["a"], "sid": "nope",
            "opts": {"rooms": [1, null, {"a": 1}], "flags": {"timeout": -1}},
            "data": [], "packet": {"data": 3}});
        for body in [wrong_types, odd_values] {
            let _: i64 = redis::cmd("PUBLISH")
                .arg("socket.io-request#/#")
                .arg(body.to_string())
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
    emitter(
        &redis.url(),
        json!([{"op": "emit", "event": "still-alive", "args": [1]}]),
    )
    .await;
    assert_eq!(c.wait_for("still-alive").await.unwrap(), vec![json!(1)]);
    // And the node still answers requests.
    assert_eq!(rs.cluster.server_count("/").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_local_delivery_and_times_out_requests() {
    let mut m = Mixed::start().await;
    let (mut c, _) = m.rs_client().await;
    let port = m.redis.port();
    m.redis.kill();

    m.rs.io.emit("local", &1).await.unwrap();
    assert_eq!(c.wait_for("local").await.unwrap(), vec![json!(1)]);
    let err =
        m.rs.io
            .socketio()
            .fetch_sockets()
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("redis"), "{err}");
    let err =
        m.rs.cluster
            .server_side_emit("/", "x", vec![])
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("redis"), "{err}");
    assert!(m.rs.cluster.local_only_broadcasts() >= 1);

    // Recovery: once the node has resubscribed, the emitter reaches its clients again. There is
    // no event for "resubscribed": publish until one arrives, bounded.
    m.redis = iostack_testing::services::RedisServer::start_on(port)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        emitter(
            &m.redis_url(),
            json!([{"op": "emit", "event": "back", "args": [2]}]),
        )
        .await;
        if let Err(got) = c.expect_none("back", Duration::from_millis(300)).await {
            assert_eq!(got.args, vec![json!(2)]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never resubscribed after the outage"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_redis_availability() {
    let mut redis = iostack_testing::services::RedisServer::start()
        .await
        .unwrap();
    let app = iostack_core::App::builder(())
        .adapter(iostack_redis_node::RedisNodeAdapter::new(
            iostack_redis_node::RedisNodeConfig::new(redis.url()),
        ))
        .build()
        .await
        .unwrap();
    assert_eq!(app.io().adapter_name(), "redis-node");
    assert_eq!(app.health().await, iostack_core::Health::Up);
    redis.kill();
    let iostack_core::Health::Down(why) = app.health().await else {
        panic!("health must report Redis down");
    };
    assert!(why.contains(&redis.url()), "{why}");
    redis.restart().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.health().await != iostack_core::Health::Up {
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Unreachable at start: `build()` fails with the URL, password redacted.
    redis.kill();
    let err = iostack_core::App::builder(())
        .adapter(iostack_redis_node::RedisNodeAdapter::new(
            iostack_redis_node::RedisNodeConfig::new(format!(
                "redis://:s3cret@127.0.0.1:{}",
                redis.port()
            ))
            .connect_timeout(Duration::from_secs(1)),
        ))
        .build()
        .await
        .err()
        .expect("build fails without Redis")
        .to_string();
    assert!(
        err.contains("cannot reach Redis at redis://:***@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}
