//! `BENCH_OVERFLOW=1`: the side-by-side run's bursts, served by the app with no layer under each
//! overflow policy: the default (a full socket's message is dropped and counted),
//! `Overflow::Wait` (the broadcast waits for the socket to make room, up to [`WAIT`](crate::servers::WAIT))
//! and `Overflow::Disconnect` (the slow consumer's connection is closed).
//! The 100-message burst, which fits every queue, shows what handing a broadcast to each socket
//! in turn costs; the overflowing bursts show what the wait delivers; 10k idle connections show
//! what each policy's bookkeeping costs in memory. Each measure runs against a fresh server
//! process, the apps taking turns; medians of `BENCH_ROUNDS` rounds.

use crate::{
    BURST, BURST_CLIENTS, OVERFLOWS,
    report::median,
    scenarios::{self, Burst},
    server::Server,
};

const APPS: [(&str, &str); 3] = [
    ("iostack", "drop newest (default)"),
    ("iostack-wait", "wait (`Overflow::Wait`)"),
    ("iostack-disconnect", "disconnect (`Overflow::Disconnect`)"),
];

/// Idle connections for the memory column.
const IDLE: usize = 10_000;

/// Runs the bursts and the idle connections `rounds` times and prints the table of medians.
pub(crate) fn run(load: &tokio::runtime::Runtime, rounds: usize) {
    let bursts = [BURST, OVERFLOWS[0], OVERFLOWS[1]];
    // results[app][burst]: one per round.
    let mut results: Vec<Vec<Vec<Burst>>> = vec![vec![Vec::new(); bursts.len()]; APPS.len()];
    // KiB per idle connection, per app: one per round.
    let mut idle: Vec<Vec<f64>> = vec![Vec::new(); APPS.len()];
    for round in 0..rounds.max(1) {
        for i in 0..APPS.len() {
            let app = (i + round) % APPS.len();
            eprintln!(
                "round {}: {IDLE} idle connections, {}",
                round + 1,
                APPS[app].1
            );
            let server = Server::start_rust(APPS[app].0);
            idle[app].push(load.block_on(scenarios::scale(&server, None, IDLE)).0);
        }
        for (b, &n) in bursts.iter().enumerate() {
            for i in 0..APPS.len() {
                let app = (i + round) % APPS.len();
                eprintln!("round {}: {n} messages, {}", round + 1, APPS[app].1);
                let server = Server::start_rust(APPS[app].0);
                let burst =
                    load.block_on(scenarios::burst(server.addr, None, BURST_CLIENTS, n, true));
                results[app][b].push(burst);
            }
        }
    }
    println!(
        "| policy | burst {BURST} → {BURST_CLIENTS}: delivered/s | overflow {0}: delivered % (counted %) | overflow {1}: delivered % (counted %) | overflow {1}: delivered/s | KiB per idle connection at {IDLE} |",
        OVERFLOWS[0], OVERFLOWS[1]
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (app, (_, title)) in APPS.iter().enumerate() {
        let [fits, first, second] = [0, 1, 2].map(|b| &results[app][b]);
        let share = |runs: &[Burst]| {
            let percent = |part: u64, r: &Burst| 100.0 * part as f64 / r.sent as f64;
            format!(
                "{:.1} ({:.1})",
                median(runs.iter().map(|r| percent(r.delivered, r))),
                median(runs.iter().map(|r| percent(r.counted.unwrap_or(0), r)))
            )
        };
        println!(
            "| {title} | {:.0} | {} | {} | {:.0} | {:.1} |",
            median(fits.iter().map(|r| r.per_second)),
            share(first),
            share(second),
            median(second.iter().map(|r| r.per_second)),
            median(idle[app].iter().copied()),
        );
    }
}
