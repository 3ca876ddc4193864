//! Cross-node broadcast from a Node.js socket.io server, received on an iostack node versus on a
//! second Node.js server, all on one Redis (`@socket.io/redis-adapter` 8.3 protocol).
//!
//! `cargo bench -p iostack-redis-node` starts its own `redis-server`, two Node servers
//! (tests/node-cluster, `npm ci` first) and an iostack node, one raw WebSocket client on the
//! iostack node and one on the second Node server, then measures from the first Node server:
//! latency (p50/p99 of paced broadcasts, Node→iostack against Node→Node) and delivered messages/s
//! (bursts of broadcasts, under socketioxide's default 128-message socket buffer).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use iostack_testing::RawClient;
use serde_json::json;
use support::{Mixed, NodeServer};

const PACED: usize = 300;
const BURSTS: usize = 20;
const BURST: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Waits for `count` events on `client` and returns when the last arrived (bounded).
async fn receive(client: &mut RawClient, count: usize, start: Instant) -> Duration {
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(10), client.next_event())
            .await
            .expect("broadcast lost or too slow");
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut m = Mixed::start().await;
    let mut node_b = NodeServer::start(&m.redis_url()).await;
    m.wait_for_servers(3).await;
    let mut on_rs = RawClient::connect(m.rs.server.addr(), None).await;
    let mut on_node = RawClient::connect(node_b.addr(), None).await;

    let (mut to_rs, mut to_node) = (Vec::new(), Vec::new());
    for i in 0..PACED {
        let start = Instant::now();
        let (_, a, b) = tokio::join!(
            m.node
                .call(json!({"op": "emit", "event": "ping", "args": [i]})),
            receive(&mut on_rs, 1, start),
            receive(&mut on_node, 1, start),
        );
        to_rs.push(a);
        to_node.push(b);
    }
    to_rs.sort();
    to_node.sort();

    let (mut burst_rs, mut burst_node) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..BURSTS {
        let start = Instant::now();
        let (_, a, b) = tokio::join!(
            m.node
                .call(json!({"op": "burst", "event": "burst", "count": BURST})),
            receive(&mut on_rs, BURST, start),
            receive(&mut on_node, BURST, start),
        );
        burst_rs += a;
        burst_node += b;
    }
    let rate = |total: Duration| (BURSTS * BURST) as f64 / total.as_secs_f64();

    println!("cross-node broadcast from a Node.js server, {PACED} paced / {BURSTS}×{BURST} burst");
    println!(
        "{:<22} {:>10} {:>10} {:>12}",
        "receiving node", "p50", "p99", "msg/s"
    );
    for (name, lat, burst) in [
        ("iostack (redis-node)", &to_rs, burst_rs),
        ("Node.js (redis)", &to_node, burst_node),
    ] {
        println!(
            "{name:<22} {:>10.2?} {:>10.2?} {:>12.0}",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            rate(burst)
        );
    }
    drop(node_b.call(json!({"op": "serverCount"})).await);
}
