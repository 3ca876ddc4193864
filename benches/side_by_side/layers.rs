//! `BENCH_LAYERS=1`: what each middleware layer costs the server, alone, in CPU time per connect
//! (connect layers) and per acked event (event layers), against the same app with no layer; and
//! what that app itself costs against bare socketioxide serving the same handlers, and the five
//! layers together (row `five-layers`).
//! `BENCH_LAYERS=bare,rate-limit` measures only those (the app with no layer always runs: every
//! cost is read against it). `BENCH_BASELINE=<path>` adds the app with no layer as served by
//! another build of this bench (row `baseline`): build the commit to compare against, copy its
//! `side_by_side` binary aside, and both commits are measured in one run.
//!
//! The server's CPU time is read from `/proc/<pid>/task/*/schedstat` around the measured work, so
//! socket and scheduling latency on the load generator's side do not count; what differs between
//! two apps is the layer. Every app runs at once, in its own fresh server process, and they take
//! turns: one-second slices of acked echo, then slices of 500 connects, the order rotating each
//! slice, so a slower minute of the machine weighs on every app alike. An app's cost is the lower
//! quartile of its slices (see [`lower_quartile`]); a layer's is the difference to the app
//! without layers. Every slice's figures go to stderr.

use std::{path::PathBuf, time::Duration};

use crate::{
    scenarios::{connect, in_turn, round_trips, warm_up},
    server::Server,
    servers::LAYERS,
};

/// Connections opened (and measured) per server and slice.
const CONNECTS: usize = 500;
/// Clients sending acked events to each server, and for how long per slice.
const CLIENTS: usize = 100;
const ECHO_TIME: Duration = Duration::from_secs(1);
/// The app with all five layers, as the side-by-side run's `iostack (5 layers)`.
const FIVE_LAYERS: &str = "five-layers";
/// Slices per round: the apps take turns this many times, so a slower minute of the machine
/// weighs on all of them alike.
const SLICES_PER_ROUND: usize = 5;

/// One app under measurement: its server, fresh each round.
struct Subject {
    server: Server,
    auth: Option<String>,
}

/// The CPU cost of one app in each slice, over every round.
#[derive(Debug, Clone, Default)]
struct Costs {
    per_connect_us: Vec<f64>,
    per_event_us: Vec<f64>,
}

impl Subject {
    /// Starts the app `name` (`none`: no layer; `bare`: bare socketioxide) as a fresh server.
    async fn start(name: &str, auth: &str) -> Self {
        let server = match name {
            "bare" => Server::start_rust("bare"),
            FIVE_LAYERS => Server::start_rust("iostack-five-layers"),
            "baseline" => {
                Server::start_rust_from(&baseline().expect("BENCH_BASELINE"), "layer-none")
            }
            _ => Server::start_rust(&format!("layer-{name}")),
        };
        let auth = ["jwt-auth", FIVE_LAYERS]
            .contains(&name)
            .then(|| auth.to_owned());
        warm_up(&server, auth.as_deref()).await;
        Self { server, auth }
    }

    /// CPU microseconds the server spends on `work`, per unit of what it returns.
    async fn cost<F: Future<Output = usize>>(&self, work: F) -> f64 {
        settle(&self.server).await;
        let before = self.server.cpu_ns();
        let units = work.await;
        (self.server.cpu_ns() - before) as f64 / 1e3 / units.max(1) as f64
    }
}

/// Waits (up to 5 s) until the server's CPU time stops advancing: the work of earlier clients,
/// such as their disconnects, is done before a measurement starts.
async fn settle(server: &Server) {
    let mut last = server.cpu_ns();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = server.cpu_ns();
        // Under 1 % of a core: idle but for timers.
        if now - last < 500_000 {
            return;
        }
        last = now;
    }
}

/// The lower quartile of `values`: what a slice costs when nothing else disturbs it. This
/// machine's disturbances (other tenants of the host, its cache and clock) only ever add time, and
/// they made single slices of one app differ by up to 2×.
fn lower_quartile(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 4]
}

/// The bench binary of `BENCH_BASELINE`, whose app with no layer is measured as `baseline`.
fn baseline() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("BENCH_BASELINE")?);
    assert!(
        path.is_file(),
        "BENCH_BASELINE: {} is not a file (the side_by_side binary of another build)",
        path.display()
    );
    Some(path)
}

/// The apps `selection` names (`1`: all of them), the app without layers first, then the
/// baseline's when `BENCH_BASELINE` names one.
fn selected(selection: &str) -> Vec<&'static str> {
    let baseline = baseline().map(|_| "baseline");
    let all: Vec<&str> = ["none"]
        .into_iter()
        .chain(baseline)
        .chain(["bare"])
        .chain(LAYERS)
        .chain([FIVE_LAYERS])
        .collect();
    if selection == "1" {
        return all;
    }
    let wanted: Vec<&str> = selection.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted.iter().find(|w| !all.contains(w)) {
        panic!(
            "BENCH_LAYERS: unknown app `{unknown}`; use 1 (all) or some of: {}",
            all.join(", ")
        );
    }
    all.into_iter()
        .filter(|name| ["none", "baseline"].contains(name) || wanted.contains(name))
        .collect()
}

/// Measures every app `selection` names (the layers, the app without layers and bare
/// socketioxide) in `rounds` rounds, each with fresh servers of all of them, and prints one table
/// of their costs and of each one's cost over the app without layers.
pub(crate) fn run(selection: &str, auth: &str, load: &tokio::runtime::Runtime, rounds: usize) {
    let names = selected(selection);
    let rounds = rounds.max(1);
    let mut costs = vec![Costs::default(); names.len()];
    eprintln!("µs per event, then per connect, of each slice: {names:?}");
    load.block_on(async {
        for round in 0..rounds {
            eprintln!("round {}/{rounds}", round + 1);
            let mut subjects = Vec::new();
            for name in &names {
                subjects.push(Subject::start(name, auth).await);
            }
            measure_round(&subjects, &mut costs).await;
            for cost in &costs {
                let last = |v: &[f64]| format!("{:.2?}", &v[v.len() - SLICES_PER_ROUND..]);
                eprintln!(
                    "  {} {}",
                    last(&cost.per_event_us),
                    last(&cost.per_connect_us)
                );
            }
        }
    });
    report(&names, &costs, rounds);
}

/// The apps take turns: [`SLICES_PER_ROUND`] slices of acked echo, then as many of connects,
/// the order rotating each slice.
async fn measure_round(subjects: &[Subject], costs: &mut [Costs]) {
    let n = subjects.len();
    let mut echo_clients = Vec::new();
    for subject in subjects {
        let (clients, _) = connect(subject.server.addr, 0..CLIENTS, subject.auth.as_deref()).await;
        echo_clients.push(clients);
    }
    for slice in 0..SLICES_PER_ROUND {
        for i in in_turn(n, slice) {
            let clients = &mut echo_clients[i];
            let cost = subjects[i]
                .cost(async { round_trips(clients, ECHO_TIME).await.len() })
                .await;
            costs[i].per_event_us.push(cost);
        }
    }
    drop(echo_clients);
    for slice in 0..SLICES_PER_ROUND {
        for i in in_turn(n, slice) {
            let subject = &subjects[i];
            let cost = subject
                .cost(async {
                    let (clients, _) =
                        connect(subject.server.addr, 0..CONNECTS, subject.auth.as_deref()).await;
                    clients.len()
                })
                .await;
            costs[i].per_connect_us.push(cost);
        }
    }
}

/// Prints the table of [`run`].
fn report(names: &[&str], costs: &[Costs], rounds: usize) {
    let base = &costs[0];
    println!(
        "server CPU time, lower quartile of {} slices per app ({rounds} rounds of fresh servers \
         taking turns): {CONNECTS} connects per slice; {CLIENTS} clients sending acked events for \
         {}s per slice\n",
        SLICES_PER_ROUND * rounds,
        ECHO_TIME.as_secs()
    );
    println!(
        "| layer | µs per connect | µs per event | connect cost of the layer (µs) | event cost of the layer (µs) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (base_connect, base_event) = (
        lower_quartile(&base.per_connect_us),
        lower_quartile(&base.per_event_us),
    );
    for (name, cost) in names.iter().zip(costs) {
        let (connect, event) = (
            lower_quartile(&cost.per_connect_us),
            lower_quartile(&cost.per_event_us),
        );
        println!(
            "| {name} | {connect:.1} | {event:.2} | {:+.1} | {:+.2} |",
            connect - base_connect,
            event - base_event,
        );
    }
}
