//! Requests between an iostack node and real Node.js socket.io 4.8 servers (`@socket.io/redis-adapter`
//! 8.3) on one Redis, both directions: fetch sockets, remote socket operations, sockets join/leave/
//! disconnect, server-side emits, all rooms, server count, a three-node mixed cluster, and three
//! iostack nodes alone on the same protocol.
//!
//! Needs `redis-server`, `node`, and `npm ci` in tests/node-cluster (scripts/test.sh does all).

mod support;

use std::time::Duration;

use iostack_testing::WAIT;
use serde_json::{Value, json};
use support::{Mixed, NodeServer, Options, assert_none_before, join};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_crosses_both_ways() {
    let mut m = Mixed::start().await;
    let (rs, rs_id) = m.rs_client().await;
    let (node, node_id) = m.node_client().await;
    join(&rs, "r").await;
    join(&node, "r").await;

    // Node sees the iostack socket with its rooms.
    let found = m
        .node
        .call(json!({"op": "fetchSockets", "rooms": ["r"]}))
        .await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let ours = found
        .iter()
        .find(|s| s["id"] == json!(rs_id))
        .expect("iostack socket listed");
    assert_eq!(
        ours["data"],
        json!({"ns": "/", "id": rs_id}),
        "socket_data fills `data`"
    );
    let rooms: Vec<&str> = ours["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        rooms.contains(&"r") && rooms.contains(&rs_id.as_str()),
        "{rooms:?}"
    );

    // iostack sees the Node socket (behind an alias id) and can act on it.
    let sockets = m.rs.io.to("r").fetch_sockets().await.unwrap();
    assert_eq!(sockets.len(), 2);
    let all = m.rs.io.socketio().fetch_sockets().await.unwrap();
    assert_eq!(all.len(), 2);
    let remote: Vec<_> = sockets
        .iter()
        .filter(|s| s.data().id.to_string() != rs_id)
        .collect();
    assert_eq!(remote.len(), 1);
    let details =
        m.rs.cluster
            .fetch_remote_sockets("/", &["r"])
            .await
            .unwrap();
    assert_eq!(details[0]["id"], json!(node_id));
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_socket_operations_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (mut rs, rs_id) = m.rs_client().await;
    let (mut node, node_id) = m.node_client().await;

    // Node acts on the iostack socket through RemoteSocket.
    m.node
        .call(json!({"op": "remoteSocketOp", "sid": rs_id, "action": "join", "room": "vip"}))
        .await;
    m.node
        .call(json!({"op": "remoteSocketOp", "sid": rs_id, "action": "emit", "event": "direct", "args": [1]}))
        .await;
    assert_eq!(rs.wait_for("direct").await.unwrap(), vec![json!(1)]);
    m.node
        .call(json!({"op": "emit", "event": "vip", "args": [0], "rooms": ["vip"]}))
        .await;
    rs.wait_for("vip").await.unwrap();

    // iostack acts on the Node socket through its RemoteSocket.
    let sockets = m.rs.io.socketio().fetch_sockets().await.unwrap();
    let remote = sockets
        .into_iter()
        .find(|s| s.data().id.to_string() != rs_id)
        .expect("Node socket");
    remote.join("gold").await.unwrap();
    remote.emit("direct2", &2).await.unwrap();
    assert_eq!(node.wait_for("direct2").await.unwrap(), vec![json!(2)]);
    let rooms = m
        .node
        .call(json!({"op": "localRooms", "sid": node_id}))
        .await;
    assert!(
        rooms.as_array().unwrap().contains(&json!("gold")),
        "{rooms}"
    );
    remote.leave("gold").await.unwrap();
    remote.disconnect().await.unwrap();
    node.wait_for("disconnect").await.unwrap();

    m.node
        .call(json!({"op": "remoteSocketOp", "sid": rs_id, "action": "disconnect"}))
        .await;
    rs.wait_for("disconnect").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_join_leave_and_disconnect_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (mut rs, _) = m.rs_client().await;
    let (mut node, node_id) = m.node_client().await;
    join(&rs, "r").await;
    join(&node, "r").await;

    // Node → iostack: socketsJoin, socketsLeave.
    m.node
        .call(json!({"op": "socketsJoin", "rooms": ["r"], "join": "vip"}))
        .await;
    m.node
        .call(json!({"op": "emit", "event": "vip", "args": [1], "rooms": ["vip"]}))
        .await;
    assert_eq!(rs.wait_for("vip").await.unwrap(), vec![json!(1)]);
    m.node
        .call(json!({"op": "socketsLeave", "rooms": ["r"], "leave": "vip"}))
        .await;
    m.node
        .call(json!({"op": "emit", "event": "vip", "args": [2], "rooms": ["vip"]}))
        .await;
    m.node
        .call(json!({"op": "emit", "event": "marker", "args": [0]}))
        .await;
    assert_none_before(&mut rs, "vip", "marker").await;

    // iostack → Node: sockets_join, sockets_leave.
    m.rs.io.to("r").join("gold").await.unwrap();
    m.rs.io.to("gold").emit("gold", &1).await.unwrap();
    assert_eq!(node.wait_for("gold").await.unwrap(), vec![json!(1)]);
    let rooms = m
        .node
        .call(json!({"op": "localRooms", "sid": node_id}))
        .await;
    assert!(
        rooms.as_array().unwrap().contains(&json!("gold")),
        "{rooms}"
    );
    m.rs.io.to("r").leave("gold").await.unwrap();
    m.rs.io.to("gold").emit("gold", &2).await.unwrap();
    m.rs.io.emit("marker2", &0).await.unwrap();
    assert_none_before(&mut node, "gold", "marker2").await;

    // disconnectSockets both ways.
    m.node
        .call(json!({"op": "disconnectSockets", "rooms": ["r"]}))
        .await;
    rs.wait_for("disconnect").await.unwrap();
    node.wait_for("disconnect").await.unwrap();
    let (mut rs2, _) = m.rs_client().await;
    let (mut node2, _) = m.node_client().await;
    m.rs.io.socketio().disconnect().await.unwrap();
    rs2.wait_for("disconnect").await.unwrap();
    node2.wait_for("disconnect").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_emits_cross_both_ways_with_and_without_acks() {
    let mut m = Mixed::start().await;

    m.node
        .call(json!({"op": "serverSideEmit", "event": "hello", "args": [1, "x"]}))
        .await;
    let got = tokio::time::timeout(WAIT, m.rs.server_side.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("hello".to_owned(), vec![json!(1), json!("x")]));

    let answers = m
        .node
        .call(json!({"op": "serverSideEmitWithAck", "event": "ask", "args": [2]}))
        .await;
    assert_eq!(answers, json!([{"from": "iostack", "got": [2]}]));
    let got = tokio::time::timeout(WAIT, m.rs.server_side.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.0, "ask");

    m.rs.cluster
        .server_side_emit("/", "hello", vec![json!(3)])
        .await
        .unwrap();
    let ev = m.node.next_event().await;
    assert_eq!(
        (ev["name"].clone(), ev["args"].clone()),
        (json!("hello"), json!([3]))
    );

    let answers =
        m.rs.cluster
            .server_side_emit_with_ack("/", "ask", vec![json!(4)])
            .await
            .unwrap();
    assert_eq!(answers, vec![json!({"from": "node", "got": [4]})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_rooms_and_server_count_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (rs, _) = m.rs_client().await;
    let (node, _) = m.node_client().await;
    join(&rs, "rs-room").await;
    join(&node, "node-room").await;

    let rooms = m.node.call(json!({"op": "allRooms"})).await;
    let rooms = rooms.as_array().unwrap();
    assert!(
        rooms.contains(&json!("rs-room")) && rooms.contains(&json!("node-room")),
        "{rooms:?}"
    );

    let rooms: Vec<String> =
        m.rs.io
            .socketio()
            .rooms()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.to_string())
            .collect();
    assert!(
        rooms.iter().any(|r| r == "rs-room") && rooms.iter().any(|r| r == "node-room"),
        "{rooms:?}"
    );

    assert_eq!(m.rs.cluster.server_count("/").await.unwrap(), 2);
    assert_eq!(m.node.call(json!({"op": "serverCount"})).await, json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_cluster_of_two_node_servers_and_one_iostack_node() {
    let mut m = Mixed::start().await;
    let mut node2 = NodeServer::start(&m.redis_url()).await;
    m.wait_for_servers(3).await;
    let (mut rs, rs_id) = m.rs_client().await;
    let (mut n1, _) = m.node_client().await;
    let (mut n2, _) = support::client_of(&node2.url()).await;

    // A broadcast from each node reaches the clients of all three.
    m.node
        .call(json!({"op": "emit", "event": "from-n1", "args": [1]}))
        .await;
    node2
        .call(json!({"op": "emit", "event": "from-n2", "args": [2]}))
        .await;
    m.rs.io.emit("from-rs", &3).await.unwrap();
    for c in [&mut rs, &mut n1, &mut n2] {
        assert_eq!(c.wait_for("from-n1").await.unwrap(), vec![json!(1)]);
        assert_eq!(c.wait_for("from-n2").await.unwrap(), vec![json!(2)]);
        assert_eq!(c.wait_for("from-rs").await.unwrap(), vec![json!(3)]);
    }

    // Every node counts every socket and server.
    assert_eq!(m.rs.io.socketio().fetch_sockets().await.unwrap().len(), 3);
    let seen = node2.call(json!({"op": "fetchSockets"})).await;
    assert_eq!(seen.as_array().unwrap().len(), 3);
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(rs_id))
    );
    assert_eq!(m.rs.cluster.server_count("/").await.unwrap(), 3);

    // Server-side emits with acks collect one answer per other node.
    let answers =
        m.rs.cluster
            .server_side_emit_with_ack("/", "ask", vec![json!(1)])
            .await
            .unwrap();
    assert_eq!(answers.len(), 2);
    let answers = node2
        .call(json!({"op": "serverSideEmitWithAck", "event": "ask", "args": [2]}))
        .await;
    let mut answers: Vec<String> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["from"].to_string())
        .collect();
    answers.sort();
    assert_eq!(answers, ["\"iostack\"", "\"node\""]);

    // A room spread over the three nodes.
    join(&rs, "r").await;
    join(&n2, "r").await;
    m.node
        .call(json!({"op": "emit", "event": "room", "args": [4], "rooms": ["r"]}))
        .await;
    assert_eq!(rs.wait_for("room").await.unwrap(), vec![json!(4)]);
    assert_eq!(n2.wait_for("room").await.unwrap(), vec![json!(4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_key_and_specific_response_channels_work_both_ways() {
    let mut m = Mixed::start_with(Options {
        key: "myapp".into(),
        specific_response_channel: true,
    })
    .await;
    let (mut rs, rs_id) = m.rs_client().await;
    let (mut node, node_id) = m.node_client().await;

    m.node
        .call(json!({"op": "emit", "event": "hi", "args": [1]}))
        .await;
    assert_eq!(rs.wait_for("hi").await.unwrap(), vec![json!(1)]);
    m.rs.io.emit("hi2", &2).await.unwrap();
    assert_eq!(node.wait_for("hi2").await.unwrap(), vec![json!(2)]);

    let seen = m.node.call(json!({"op": "fetchSockets"})).await;
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(rs_id))
    );
    let details = m.rs.cluster.fetch_remote_sockets("/", &[]).await.unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["id"], json!(node_id));
    let answers =
        m.rs.cluster
            .server_side_emit_with_ack("/", "ask", vec![json!(1)])
            .await
            .unwrap();
    assert_eq!(answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iostack_nodes_alone_act_as_one_cluster_on_the_node_protocol() {
    let redis = iostack_testing::services::RedisServer::start()
        .await
        .expect("redis-server must be installed (apt-get install redis-server)");
    let options = Options::default();
    let a = support::iostack_node(&redis.url(), &options).await;
    let b = support::iostack_node(&redis.url(), &options).await;
    let c = support::iostack_node(&redis.url(), &options).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.cluster.server_count("/").await.unwrap_or(0) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nodes never saw each other"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut ca, _) = support::client_of(&a.server.url()).await;
    let (mut cb, cb_id) = support::client_of(&b.server.url()).await;
    let (mut cc, _) = support::client_of(&c.server.url()).await;
    join(&ca, "r").await;
    join(&cc, "r").await;

    // Broadcasts, rooms and except cross every node.
    b.io.emit("all", &1).await.unwrap();
    a.io.to("r").emit("room", &2).await.unwrap();
    c.io.socketio()
        .except("r")
        .emit("outside", &3)
        .await
        .unwrap();
    for client in [&mut ca, &mut cb, &mut cc] {
        assert_eq!(client.wait_for("all").await.unwrap(), vec![json!(1)]);
    }
    assert_eq!(ca.wait_for("room").await.unwrap(), vec![json!(2)]);
    assert_eq!(cc.wait_for("room").await.unwrap(), vec![json!(2)]);
    assert_eq!(cb.wait_for("outside").await.unwrap(), vec![json!(3)]);

    // fetch_sockets, remote join, rooms, server-side emits.
    assert_eq!(a.io.socketio().fetch_sockets().await.unwrap().len(), 3);
    assert_eq!(b.io.to("r").fetch_sockets().await.unwrap().len(), 2);
    b.io.to("r").join("vip").await.unwrap();
    let rooms: Vec<String> =
        c.io.socketio()
            .rooms()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.to_string())
            .collect();
    assert!(rooms.iter().any(|r| r == "vip"), "{rooms:?}");
    let answers = a
        .cluster
        .server_side_emit_with_ack("/", "ask", vec![json!(0)])
        .await
        .unwrap();
    assert_eq!(answers.len(), 2);

    // iostack's cluster-wide helper disconnects a socket of another node.
    assert!(a.io.disconnect_socket(&cb_id, "bye").await.unwrap());
    assert_eq!(
        cb.wait_for("server:disconnect").await.unwrap(),
        vec![json!({"reason": "bye"})]
    );
    cb.wait_for("disconnect").await.unwrap();
}
