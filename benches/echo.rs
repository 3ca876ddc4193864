//! Echo round trips through an iostack app with an empty stack versus bare socketioxide, in one run.
//!
//! `cargo bench --bench echo` — prints both rates and their ratio. Servers and the load generator
//! run on separate single-threaded runtimes (one core each on a 2-core machine).

#[path = "support/load.rs"]
mod load;

use std::{net::SocketAddr, time::Duration};

use iostack::{
    App,
    extract::{AckSender, Data, SocketRef},
};
use serde_json::Value;
use socketioxide::SocketIo;

const CLIENTS: usize = 50;
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 3;

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Serves bare socketioxide with the same echo handler.
async fn bare() -> SocketAddr {
    let (layer, io) = SocketIo::builder().build_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        });
    });
    let listener = iostack::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().layer(layer)).await });
    addr
}

/// Serves an iostack app with an empty stack.
async fn iostack_empty() -> SocketAddr {
    let app = App::builder(())
        .on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        })
        .build()
        .await
        .unwrap();
    let listener = iostack::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_with_shutdown(listener, std::future::pending()));
    addr
}

fn main() {
    let servers = server_runtime();
    let bare_addr = servers.block_on(bare());
    let iostack_addr = servers.block_on(iostack_empty());
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let (mut bare_rates, mut iostack_rates) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate the order so neither side always runs on a warmer machine.
        let order = if round % 2 == 0 {
            [bare_addr, iostack_addr]
        } else {
            [iostack_addr, bare_addr]
        };
        for addr in order {
            let rate = load.block_on(load::ack_rate(addr, CLIENTS, ROUND, "echo"));
            if addr == bare_addr {
                bare_rates.push(rate)
            } else {
                iostack_rates.push(rate)
            }
        }
    }
    let (bare, iostack) = (load::median(bare_rates), load::median(iostack_rates));
    println!("echo round trips/s ({CLIENTS} clients, median of {ROUNDS} x {ROUND:?})");
    println!("  bare socketioxide     {bare:>10.0}");
    println!("  iostack, empty stack  {iostack:>10.0}");
    println!("  ratio iostack / bare  {:>10.2}", iostack / bare);
}
