//! A minimal Socket.IO load generator over raw WebSockets (Engine.IO v4), used by the benches:
//! it costs the generator far less than a full client library, so the server is what is measured.
#![allow(dead_code)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

pub(crate) use iostack_testing::RawClient;

/// Runs `clients` concurrent clients doing acked `event` round trips for `duration`;
/// returns round trips per second.
pub(crate) async fn ack_rate(
    addr: std::net::SocketAddr,
    auth: Option<&str>,
    clients: usize,
    duration: Duration,
    event: &'static str,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(RawClient::connect(addr, auth).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut client| {
            let (done, stop) = (done.clone(), stop.clone());
            tokio::spawn(async move {
                let mut id = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    client
                        .emit_with_ack(id, event, "{\"n\":1,\"text\":\"hello\"}")
                        .await;
                    done.fetch_add(1, Ordering::Relaxed);
                    id += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    for task in tasks {
        let _ = task.await;
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Median of a few samples.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}
