//! Node socket.io, bare socketioxide and iostack (no layers, and the five-layer stack) side by side,
//! in one run, each server a fresh process pinned to CPU 0 and driven by one Rust load generator
//! pinned to CPU 1.
//!
//! `bash scripts/bench.sh` installs Node's socket.io into `benches/node` and runs
//! `cargo bench --bench side_by_side`, which prints one Markdown table: memory per idle connection at
//! 1k/5k/10k, memory after every client left, connect rate and handshake p99, acked echo, a broadcast
//! burst and two that overflow socket queues (delivered, lost, and counted by the server). `BENCH_ROUNDS` (default
//! 2) sets how many times each variant runs; the order rotates every round and medians are reported.
//! `BENCH_SCALE=19000` measures only idle connections, that many, opened from as many loopback
//! addresses as they need (127.0.0.1, 127.0.0.2, ...). `BENCH_LAYERS=1` measures instead what each
//! middleware layer alone costs the server in CPU time per connect and per event
//! (`BENCH_LAYERS=bare,rate-limit`: only those, against the app with no layer). `BENCH_OVERFLOW=1`
//! runs only the bursts, under each overflow policy of iostack.
//! The Rust servers run on jemalloc when the `jemalloc` feature is on (`scripts/bench.sh` turns it
//! on; `BENCH_ALLOCATOR=system` keeps glibc's malloc).

#[path = "../support/servers.rs"]
mod servers;

mod layers;
mod overflow;
mod report;
mod scenarios;
mod server;

use std::time::Duration;

use report::Results;
use server::{Server, Variant};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: iostack::Jemalloc = iostack::Jemalloc;

const ECHO_CLIENTS: usize = 100;
const ECHO_SLICE: Duration = Duration::from_secs(1);
const ECHO_SLICES: usize = 5;
const BURST_CLIENTS: usize = 1_000;
const BURST: u32 = 100;
const OVERFLOWS: [u32; 2] = [1_000, 3_000];

/// Runs every scenario against fresh processes of `variant`.
fn run(variant: Variant, auth: &str, load: &tokio::runtime::Runtime, results: &mut Results) {
    let auth = variant.needs_auth().then_some(auth);
    let idle = {
        let server = Server::start(variant);
        load.block_on(scenarios::idle(&server, auth))
    };
    let [burst, overflows @ ..] = [BURST, OVERFLOWS[0], OVERFLOWS[1]].map(|n| {
        let server = Server::start(variant);
        let counts = variant.counts_drops();
        load.block_on(scenarios::burst(
            server.addr,
            auth,
            BURST_CLIENTS,
            n,
            counts,
        ))
    });
    results.add(variant, idle, burst, overflows);
}

/// Acked echo of every variant at once, taking turns (see [`scenarios::echo`]).
fn echo(auth: &str, load: &tokio::runtime::Runtime, results: &mut Results) {
    let servers: Vec<_> = Variant::ALL
        .iter()
        .map(|v| (Server::start(*v), v.needs_auth().then_some(auth)))
        .collect();
    let echoes = load.block_on(scenarios::echo(
        &servers,
        ECHO_CLIENTS,
        ECHO_SLICE,
        ECHO_SLICES,
    ));
    for (variant, (rates, p99)) in Variant::ALL.into_iter().zip(echoes) {
        results.add_echo(variant, &rates, p99);
    }
}

/// Idle connections only, `count` of them per server: memory per connection at scale.
fn scale(count: usize, auth: &str, load: &tokio::runtime::Runtime) {
    // Each side holds one descriptor per connection, plus listeners, pipes and the runtime's own.
    let files = count + 500;
    server::allow_open_files(files);
    println!(
        "| server | idle connections | KiB per connection | RSS (MiB) |\n|---|---:|---:|---:|"
    );
    for variant in Variant::ALL {
        let server = Server::start(variant);
        let auth = variant.needs_auth().then_some(auth);
        let (per_connection, rss) = load.block_on(scenarios::scale(&server, auth, count));
        println!(
            "| {} | {count} | {per_connection:.1} | {:.0} |",
            variant.title(),
            rss / 1024.0
        );
    }
    println!("\nopen files per process: {files} (`ulimit -n`)");
}

fn main() {
    if server::serve_if_child() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = server::pin_generator();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let auth = servers::auth();
    if let Some(count) = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return scale(count, &auth, &load);
    }
    if let Ok(selection) = std::env::var("BENCH_LAYERS") {
        return layers::run(&selection, &auth, &load, rounds);
    }
    if std::env::var_os("BENCH_OVERFLOW").is_some() {
        return overflow::run(&load, rounds);
    }
    let mut results = Results::default();
    for round in 0..rounds {
        // Rotate the order so no variant always runs first.
        for i in 0..Variant::ALL.len() {
            let variant = Variant::ALL[(i + round) % Variant::ALL.len()];
            eprintln!("round {}/{rounds}: {}", round + 1, variant.title());
            run(variant, &auth, &load, &mut results);
        }
        eprintln!(
            "round {}/{rounds}: acked echo, all variants taking turns",
            round + 1
        );
        echo(&auth, &load, &mut results);
    }
    println!(
        "{cpus} CPUs, {}, Rust servers on {}; median of {rounds} rounds\n",
        if pinned {
            "servers pinned to CPU 0, load generator to CPU 1"
        } else {
            "not pinned (no taskset or one CPU)"
        },
        if cfg!(feature = "jemalloc") {
            "jemalloc"
        } else {
            "the system allocator"
        }
    );
    print!("{}", results.table());
}
