//! Broadcasts between an iostack node and a real Node.js socket.io 4.8 server (`@socket.io/redis-adapter`
//! 8.3) on one Redis, both directions: to all, rooms, `except`, `local`, binary, namespaces, acks.
//!
//! Needs `redis-server`, `node`, and `npm ci` in tests/node-cluster (scripts/test.sh does all).

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use iostack_testing::RawClient;
use serde_json::{Value, json};
use support::{Mixed, assert_none_before, join};

/// Bytes that serialize as a socket.io binary attachment.
struct Bin(Vec<u8>);

impl serde::Serialize for Bin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_to_all_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (mut rs, _) = m.rs_client().await;
    let (mut node, _) = m.node_client().await;

    m.node
        .call(json!({"op": "emit", "event": "from-node", "args": [1, "a"]}))
        .await;
    assert_eq!(
        rs.wait_for("from-node").await.unwrap(),
        vec![json!(1), json!("a")]
    );
    assert_eq!(
        node.wait_for("from-node").await.unwrap(),
        vec![json!(1), json!("a")]
    );

    m.rs.io
        .emit("from-iostack", &json!({"n": 2}))
        .await
        .unwrap();
    assert_eq!(
        node.wait_for("from-iostack").await.unwrap(),
        vec![json!({"n": 2})]
    );
    assert_eq!(
        rs.wait_for("from-iostack").await.unwrap(),
        vec![json!({"n": 2})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_and_except_broadcasts_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (mut rs_in, _) = m.rs_client().await;
    let (mut rs_out, _) = m.rs_client().await;
    let (mut node_in, _) = m.node_client().await;
    let (mut node_out, _) = m.node_client().await;
    join(&rs_in, "r").await;
    join(&node_in, "r").await;

    // Node → iostack: to a room, then except the room.
    m.node
        .call(json!({"op": "emit", "event": "room", "args": ["n"], "rooms": ["r"]}))
        .await;
    m.node
        .call(json!({"op": "emit", "event": "outside", "args": ["n"], "except": ["r"]}))
        .await;
    m.node
        .call(json!({"op": "emit", "event": "marker", "args": [0]}))
        .await;
    assert_eq!(rs_in.wait_for("room").await.unwrap(), vec![json!("n")]);
    assert_none_before(&mut rs_in, "outside", "marker").await;
    assert_eq!(rs_out.wait_for("outside").await.unwrap(), vec![json!("n")]);
    assert_none_before(&mut rs_out, "room", "marker").await;

    // iostack → Node: the same.
    m.rs.io.to("r").emit("room2", &"i").await.unwrap();
    m.rs.io
        .socketio()
        .except("r")
        .emit("outside2", &"i")
        .await
        .unwrap();
    m.rs.io.emit("marker2", &0).await.unwrap();
    assert_eq!(node_in.wait_for("room2").await.unwrap(), vec![json!("i")]);
    assert_none_before(&mut node_in, "outside2", "marker2").await;
    assert_eq!(
        node_out.wait_for("outside2").await.unwrap(),
        vec![json!("i")]
    );
    assert_none_before(&mut node_out, "room2", "marker2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_payloads_reach_official_clients_both_ways() {
    let mut m = Mixed::start().await;
    let rs_url = m.rs.server.url();
    let node_url = m.node.url();
    let on_rs = m.js_client(&rs_url, "").await;
    let on_node = m.js_client(&node_url, "").await;

    m.node
        .call(json!({"op": "emit", "event": "bin", "args": [{"$bytes": "AQID"}, "tail"]}))
        .await;
    assert_eq!(
        m.js_wait(&on_rs, "bin").await,
        json!([{"$bytes": "AQID"}, "tail"])
    );

    m.rs.io
        .emit("bin2", &(Bin(vec![4, 5]), "tail"))
        .await
        .unwrap();
    assert_eq!(
        m.js_wait(&on_node, "bin2").await,
        json!([{"$bytes": "BAU="}, "tail"])
    );
    assert_eq!(
        m.js_wait(&on_rs, "bin2").await,
        json!([{"$bytes": "BAU="}, "tail"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_broadcasts_stay_on_their_node() {
    let mut m = Mixed::start().await;
    let (mut rs, _) = m.rs_client().await;
    let (mut node, _) = m.node_client().await;

    m.rs.io
        .socketio()
        .local()
        .emit("only-rs", &1)
        .await
        .unwrap();
    m.node
        .call(json!({"op": "emit", "event": "only-node", "args": [1], "local": true}))
        .await;
    assert_eq!(rs.wait_for("only-rs").await.unwrap(), vec![json!(1)]);
    assert_eq!(node.wait_for("only-node").await.unwrap(), vec![json!(1)]);
    m.rs.io.emit("marker", &0).await.unwrap();
    m.node
        .call(json!({"op": "emit", "event": "marker2", "args": [0]}))
        .await;
    assert_none_before(&mut node, "only-rs", "marker").await;
    assert_none_before(&mut rs, "only-node", "marker2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_namespaces_use_their_own_channels() {
    let mut m = Mixed::start().await;
    let rs_url = m.rs.server.url();
    let node_url = m.node.url();
    let chat_on_rs = m.js_client(&rs_url, "/chat").await;
    let chat_on_node = m.js_client(&node_url, "/chat").await;
    let root_on_rs = m.js_client(&rs_url, "").await;

    m.node
        .call(json!({"op": "emit", "ns": "/chat", "event": "chat", "args": ["n"]}))
        .await;
    assert_eq!(m.js_wait(&chat_on_rs, "chat").await, json!(["n"]));
    m.rs.io
        .of("/chat")
        .unwrap()
        .emit("chat2", &"i")
        .await
        .unwrap();
    assert_eq!(m.js_wait(&chat_on_node, "chat2").await, json!(["i"]));

    m.rs.io.emit("root", &0).await.unwrap();
    let first = m
        .node
        .call(json!({"op": "clientWait", "client": root_on_rs, "event": "root"}))
        .await;
    assert_eq!(first, json!([0]));
    let chat = m.rs.io.of("/chat").unwrap().fetch_sockets().await.unwrap();
    assert_eq!(chat.len(), 2, "one /chat socket per node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_with_acks_collect_answers_from_both_nodes() {
    let mut m = Mixed::start().await;
    let answer = |mut raw: RawClient, name: &'static str| {
        tokio::spawn(async move {
            for _ in 0..2 {
                loop {
                    if let (Some(id), _) = raw.next_event().await {
                        raw.ack(id, &format!("[\"{name}\"]")).await;
                        break;
                    }
                }
            }
            raw
        })
    };
    let rs_raw = answer(
        RawClient::connect(m.rs.server.addr(), None).await,
        "from-rs-client",
    );
    let node_raw = answer(
        RawClient::connect(m.node.addr(), None).await,
        "from-node-client",
    );

    // iostack asks: both clients answer.
    let acks =
        m.rs.io
            .socketio()
            .timeout(Duration::from_secs(10))
            .emit_with_ack::<_, Value>("question", &1)
            .await
            .unwrap();
    let mut answers: Vec<Value> = acks.map(|(_, r)| r.unwrap()).collect().await;
    answers.sort_by_key(|v| v.to_string());
    assert_eq!(
        answers,
        vec![json!("from-node-client"), json!("from-rs-client")]
    );

    // Node asks: both clients answer.
    let answers = m
        .node
        .call(json!({"op": "emitWithAck", "event": "question", "args": [2], "timeout": 10000}))
        .await;
    let mut answers = answers.as_array().unwrap().clone();
    answers.sort_by_key(|v| v.to_string());
    assert_eq!(
        answers,
        vec![json!("from-node-client"), json!("from-rs-client")]
    );
    drop((rs_raw.await.unwrap(), node_raw.await.unwrap()));
}
