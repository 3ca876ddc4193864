//! Resident memory per idle connection: bare socketioxide, an iostack app with empty stacks, and one
//! with all five middleware layers, in one run.
//!
//! `cargo bench --bench memory` runs each server in a child process of its own (this binary, started
//! again with `IOSTACK_MEMORY_SERVER=<variant>`), so the resident set it reads from `/proc` is the
//! server's alone, then opens 5 000 WebSocket connections to it and reports the growth per connection.

#[path = "support/servers.rs"]
mod servers;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

use futures_util::future::join_all;
use iostack::App;
use iostack_testing::RawClient;
use servers::echo;

const CONNECTIONS: usize = 5_000;
const AT_ONCE: usize = 250;
const VARIANTS: [&str; 3] = ["bare", "iostack", "iostack-five-layers"];
const SERVER_ENV: &str = "IOSTACK_MEMORY_SERVER";

/// Runs the `variant` server and prints its address; the parent kills it.
fn serve(variant: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = iostack::bind("127.0.0.1:0").await.expect("bind");
        println!("listening {}", listener.local_addr().expect("address"));
        match variant {
            "bare" => axum::serve(listener, servers::bare_router())
                .await
                .expect("serve"),
            "iostack" => {
                let app = App::builder(()).on("echo", echo).build().await.unwrap();
                app.serve_with_shutdown(listener, std::future::pending())
                    .await
                    .expect("serve");
            }
            _ => servers::five_layers()
                .await
                .serve_with_shutdown(listener, std::future::pending())
                .await
                .expect("serve"),
        }
    });
}

/// Resident set of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn start(variant: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(SERVER_ENV, variant)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server output: {line}"));
    (child, addr)
}

async fn connect_all(addr: SocketAddr, count: usize, auth: Option<&str>) -> Vec<RawClient> {
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = AT_ONCE.min(count - clients.len());
        clients.extend(join_all((0..batch).map(|_| RawClient::connect(addr, auth))).await);
    }
    clients
}

/// KiB per connection (and the baseline) of `variant`.
fn measure(variant: &str, auth: &str) -> (u64, f64) {
    let (mut child, addr) = start(variant);
    let auth = (variant == "iostack-five-layers").then_some(auth);
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Warm the server's allocator and lazily built state, then measure from there.
    drop(load.block_on(connect_all(addr, AT_ONCE, auth)));
    let before = rss_kib(child.id());
    let clients = load.block_on(connect_all(addr, CONNECTIONS, auth));
    let with = rss_kib(child.id());
    drop(clients);
    let _ = child.kill();
    let _ = child.wait();
    (before, (with - before) as f64 / CONNECTIONS as f64)
}

fn main() {
    if let Ok(variant) = std::env::var(SERVER_ENV) {
        return serve(&variant);
    }
    let auth = servers::auth();
    println!("resident memory per idle WebSocket connection ({CONNECTIONS} connections)");
    let mut bare = None;
    for variant in VARIANTS {
        let (before, per_connection) = measure(variant, &auth);
        let bare = *bare.get_or_insert(per_connection);
        println!(
            "  {variant:<20} baseline {before:>7} KiB  {per_connection:>6.1} KiB/connection  {:>5.2}x bare",
            per_connection / bare
        );
    }
}
