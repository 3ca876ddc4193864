//! Echo round trips through iostack apps versus bare socketioxide, in one run: an empty stack,
//! each event layer alone, and all five middleware layers.
//!
//! `cargo bench --bench echo` prints every rate and its ratio to bare socketioxide. Servers and the
//! load generator run on separate single-threaded runtimes (one core each on a 2-core machine).

#[path = "support/load.rs"]
mod load;
#[path = "support/servers.rs"]
mod servers;

use std::{net::SocketAddr, time::Duration};

use iostack::{
    App,
    extract::{AckSender, Data},
    middleware::event_stats::{EventStats, EventStatsLayer},
};
use serde_json::Value;
use servers::{echo, rate_limit};

const CLIENTS: usize = 50;
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 5;

async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = iostack::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Bare socketioxide with the same echo handler.
async fn bare() -> SocketAddr {
    let (listener, addr) = listen().await;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, servers::bare_router()).await });
    addr
}

async fn serve(app: App<()>) -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(app.serve_with_shutdown(listener, std::future::pending()));
    addr
}

/// The same echo handler, registered by `#[iostack::hooks]`.
struct EchoHooks;

#[iostack::hooks(state = ())]
impl EchoHooks {
    #[event("echo")]
    async fn echo(&self, data: Data<Value>, ack: AckSender) {
        echo(data, ack).await
    }
}

async fn variants() -> Vec<(&'static str, SocketAddr, bool)> {
    let empty = App::builder(()).on("echo", echo).build().await.unwrap();
    let macro_registered = App::builder(()).hooks(EchoHooks).build().await.unwrap();
    let limited = App::builder(())
        .on_event(rate_limit())
        .on("echo", echo)
        .build()
        .await
        .unwrap();
    let counted = App::builder(())
        .on_event(EventStatsLayer::new(EventStats::new()))
        .on("echo", echo)
        .build()
        .await
        .unwrap();
    let full = servers::five_layers().await;
    vec![
        ("bare socketioxide", bare().await, false),
        ("iostack, empty stacks", serve(empty).await, false),
        (
            "iostack, #[hooks] handler",
            serve(macro_registered).await,
            false,
        ),
        ("iostack, rate limit", serve(limited).await, false),
        ("iostack, event stats", serve(counted).await, false),
        ("iostack, all five layers", serve(full).await, true),
    ]
}

fn main() {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let variants = server_runtime.block_on(variants());
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = servers::auth();

    let mut rates = vec![Vec::new(); variants.len()];
    for round in 0..ROUNDS {
        // Rotate the order so no variant always runs first.
        for i in 0..variants.len() {
            let i = (i + round) % variants.len();
            let (_, addr, needs_auth) = variants[i];
            let auth = needs_auth.then_some(auth.as_str());
            rates[i].push(load.block_on(load::ack_rate(addr, auth, CLIENTS, ROUND, "echo")));
        }
    }
    let medians: Vec<f64> = rates.into_iter().map(load::median).collect();
    println!("echo round trips/s ({CLIENTS} clients, median of {ROUNDS} x {ROUND:?})");
    for ((name, _, _), rate) in variants.iter().zip(&medians) {
        println!(
            "  {name:<26} {rate:>10.0}   {:>5.2}x bare",
            rate / medians[0]
        );
    }
}
