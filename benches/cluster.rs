//! Cross-node broadcast over Redis, a Redis Cluster and MongoDB versus the memory adapter, in one run.
//!
//! `cargo bench --bench cluster` starts its own `redis-server`, three-shard Redis Cluster and
//! MongoDB-compatible server (see `scripts/setup-mongo.sh`), two nodes per adapter (one for
//! memory), 10 raw WebSocket clients on the receiving node, then measures latency (p50/p99 of 500
//! paced broadcasts) and delivered messages/s (a burst of 2 000 broadcasts) from the other node.

#[path = "support/load.rs"]
mod load;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use iostack::{Adapter, App, Io, memory::MemoryAdapter};
use iostack_testing::services::{MongoServer, RedisCluster, RedisServer};

const RECEIVERS: usize = 10;
const PACED: usize = 500;
const BURST: usize = 2_000;

async fn node(adapter: impl Adapter) -> (SocketAddr, Io) {
    let app = App::builder(())
        .adapter(adapter)
        .configure(|b| b.max_buffer_size(BURST * 2))
        .build()
        .await
        .expect("node builds");
    let io = app.io().clone();
    let listener = iostack::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_with_shutdown(listener, std::future::pending()));
    (addr, io)
}

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

/// Latencies of every delivery, and how many arrived.
async fn receive(
    addr: SocketAddr,
    origin: Instant,
    expected: usize,
) -> (Arc<Mutex<Vec<Duration>>>, Vec<tokio::task::JoinHandle<()>>) {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..RECEIVERS {
        let mut client = load::RawClient::connect(addr, None).await;
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..expected {
                let (_, event) = client.next_event().await;
                // ["tick",<nanos since origin>]
                let sent: u64 = event
                    .trim_end_matches(']')
                    .rsplit(',')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let latency = origin.elapsed().saturating_sub(Duration::from_nanos(sent));
                latencies.lock().unwrap().push(latency);
            }
        }));
    }
    (latencies, tasks)
}

async fn measure(sender: &Io, receiver: SocketAddr) -> Figures {
    let origin = Instant::now();
    let (latencies, tasks) = receive(receiver, origin, PACED + BURST).await;
    // Paced: latency without queueing.
    for _ in 0..PACED {
        sender
            .emit("tick", &(origin.elapsed().as_nanos() as u64))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut paced = loop {
        let done = latencies.lock().unwrap().len();
        if done >= PACED * RECEIVERS {
            break std::mem::take(&mut *latencies.lock().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    paced.sort();
    // Burst: delivered messages per second.
    let start = Instant::now();
    for _ in 0..BURST {
        sender
            .emit("tick", &(origin.elapsed().as_nanos() as u64))
            .await
            .unwrap();
    }
    let all = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(tasks),
    )
    .await;
    let delivered = latencies.lock().unwrap().len();
    assert!(
        all.is_ok(),
        "burst not fully delivered: {delivered} of {}",
        BURST * RECEIVERS
    );
    Figures {
        p50: paced[paced.len() / 2],
        p99: paced[paced.len() * 99 / 100],
        per_second: delivered as f64 / start.elapsed().as_secs_f64(),
    }
}

fn print(name: &str, f: &Figures) {
    println!(
        "  {name:<13} p50 {:>8.2?}  p99 {:>8.2?}  {:>10.0} deliveries/s",
        f.p50, f.p99, f.per_second
    );
}

/// Broadcasts from one node to the receivers on a second node, both with their own `adapter()`.
async fn across_two_nodes<AD: Adapter>(name: &str, adapter: impl Fn() -> AD) {
    let (_, sender) = node(adapter()).await;
    let (addr, _) = node(adapter()).await;
    print(name, &measure(&sender, addr).await);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "cross-node broadcast: {RECEIVERS} receivers; latency of {PACED} paced, rate of a {BURST} burst"
    );
    let (addr, io) = node(MemoryAdapter::new()).await;
    print("memory", &measure(&io, addr).await);

    let redis = RedisServer::start().await.expect("redis-server");
    across_two_nodes("redis", || {
        iostack_redis::RedisAdapter::new(iostack_redis::RedisConfig::new(redis.url()))
    })
    .await;

    let cluster = RedisCluster::start().await.expect("redis cluster");
    across_two_nodes("redis-cluster", || {
        iostack_redis::RedisAdapter::new(iostack_redis::RedisConfig::cluster(cluster.urls()))
    })
    .await;

    let mongo = MongoServer::start()
        .await
        .expect("mongo test server (scripts/setup-mongo.sh)");
    across_two_nodes("mongo", || {
        iostack_mongo::MongoAdapter::new(iostack_mongo::MongoConfig::new(mongo.url()))
    })
    .await;
}
