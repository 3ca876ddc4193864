//! `BENCH_LAYERS=1`: what each middleware layer costs the server, alone, in CPU time per connect
//! (connect layers) and per acked event (event layers), against the same app with no layer; and
//! what that app itself costs against bare socketioxide serving the same handlers.
//!
//! The server's CPU time is read from `/proc/<pid>/task/*/schedstat` around the measured work, so
//! socket and scheduling latency on the load generator's side do not count; what differs between
//! two apps is the layer.

use std::time::Duration;

use crate::{
    scenarios::{connect, round_trips, warm_up},
    server::Server,
    servers::LAYERS,
};

/// Connections opened (and measured) per server.
const CONNECTS: usize = 5_000;
/// Clients sending acked events, and for how long.
const CLIENTS: usize = 100;
const ECHO_TIME: Duration = Duration::from_secs(5);

/// CPU microseconds of one server per connect and per event.
#[derive(Debug, Clone, Copy)]
struct Cost {
    per_connect_us: f64,
    per_event_us: f64,
}

/// Measures the app with layer `name` (`none`: no layer; `bare`: bare socketioxide) in a fresh
/// server process.
async fn measure(name: &str, auth: &str) -> Cost {
    let server = match name {
        "bare" => Server::start_rust("bare"),
        _ => Server::start_rust(&format!("layer-{name}")),
    };
    let auth = (name == "jwt-auth").then_some(auth);
    warm_up(&server, auth).await;

    let before = server.cpu_ns();
    let (clients, _) = connect(server.addr, 0..CONNECTS, auth).await;
    let connects = server.cpu_ns() - before;
    drop(clients);

    let (clients, _) = connect(server.addr, 0..CLIENTS, auth).await;
    let before = server.cpu_ns();
    let events = round_trips(clients, ECHO_TIME).await.len();
    let echo = server.cpu_ns() - before;
    let us = |ns: u64, n: usize| ns as f64 / 1e3 / n as f64;
    Cost {
        per_connect_us: us(connects, CONNECTS),
        per_event_us: us(echo, events),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs every layer, the app without layers and bare socketioxide `rounds` times, rotating the
/// order, and prints one table of medians with each one's cost over the app without layers.
pub(crate) fn run(auth: &str, load: &tokio::runtime::Runtime, rounds: usize) {
    let names: Vec<&str> = ["none", "bare"].into_iter().chain(LAYERS).collect();
    let mut costs: Vec<Vec<Cost>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for i in 0..names.len() {
            let at = (i + round) % names.len();
            eprintln!("round {}/{rounds}: {}", round + 1, names[at]);
            costs[at].push(load.block_on(measure(names[at], auth)));
        }
    }
    let medians: Vec<(f64, f64)> = costs
        .into_iter()
        .map(|c| {
            (
                median(c.iter().map(|c| c.per_connect_us).collect()),
                median(c.iter().map(|c| c.per_event_us).collect()),
            )
        })
        .collect();
    let (base_connect, base_event) = medians[0];
    println!(
        "server CPU time, median of {rounds} rounds: {CONNECTS} connects, then {CLIENTS} clients \
         sending acked events for {}s\n",
        ECHO_TIME.as_secs()
    );
    println!(
        "| layer | µs per connect | µs per event | connect cost of the layer (µs) | event cost of the layer (µs) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, (connect, event)) in names.iter().zip(medians) {
        println!(
            "| {name} | {connect:.1} | {event:.2} | {:+.1} | {:+.2} |",
            connect - base_connect,
            event - base_event
        );
    }
}
