//! What the load generator does to one server: idle connections and their memory, acked echo
//! round trips, and broadcast bursts.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    ops::Range,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use iostack_testing::RawClient;
use tokio::time::timeout;

use crate::server::Server;

/// Connections opened concurrently while building up idle connections.
const AT_ONCE: usize = 250;
/// Connections per loopback source address (127.0.0.1, then .2, ...): fewer than the ephemeral
/// ports of one address (28 232 by default on Linux). For a server that can hold more than one
/// address's worth (`BENCH_SCALE`).
const PER_SOURCE: usize = 25_000;
/// Idle connection counts at which the server's resident set is read.
pub(crate) const STEPS: [usize; 3] = [1_000, 5_000, 10_000];
/// How long the server may take to give memory back once every client left.
const RELEASE: Duration = Duration::from_secs(10);
/// How long a client waits for a burst's first message: Node serialises a whole burst before it
/// writes any of it.
const FIRST: Duration = Duration::from_secs(60);
/// A burst is over for a client once it received nothing for this long after its first message.
const QUIET: Duration = Duration::from_secs(5);

/// Memory and connect figures of one server.
#[derive(Debug, Default, Clone)]
pub(crate) struct Idle {
    /// Resident set before the measured connections, in KiB.
    pub(crate) baseline_kib: f64,
    /// KiB per idle connection at each of [`STEPS`].
    pub(crate) per_connection_kib: [f64; 3],
    /// Resident set with the last step's connections open, in KiB.
    pub(crate) with_all_kib: f64,
    /// Resident set [`RELEASE`] after every client left, in KiB.
    pub(crate) after_release_kib: f64,
    /// Connects per second to the first step, and from the second to the last step.
    pub(crate) first_rate: f64,
    pub(crate) step_rate: f64,
    /// Handshake p99 (TCP connect to the namespace's CONNECT answer) in the last step, in ms.
    pub(crate) step_p99_ms: f64,
}

/// Opens idle WebSocket connections in [`STEPS`], reading the server's memory at each, then closes
/// them all and reads it again [`RELEASE`] later.
pub(crate) async fn idle(server: &Server, auth: Option<&str>) -> Idle {
    warm_up(server, auth).await;
    let mut out = Idle {
        baseline_kib: server.rss_kib() as f64,
        ..Idle::default()
    };
    let mut clients = Vec::new();
    for (i, step) in STEPS.into_iter().enumerate() {
        let started = Instant::now();
        let (opened, mut handshakes) = connect(server.addr, clients.len()..step, auth).await;
        let rate = opened.len() as f64 / started.elapsed().as_secs_f64();
        clients.extend(opened);
        let rss = server.rss_kib() as f64;
        out.per_connection_kib[i] = (rss - out.baseline_kib) / step as f64;
        match i {
            0 => out.first_rate = rate,
            2 => {
                out.step_rate = rate;
                out.step_p99_ms = p99_ms(&mut handshakes);
                out.with_all_kib = rss;
            }
            _ => {}
        }
    }
    drop(clients);
    tokio::time::sleep(RELEASE).await;
    out.after_release_kib = server.rss_kib() as f64;
    out
}

/// Opens many idle connections at once: the server's resident set per connection and in all, in
/// KiB.
pub(crate) async fn scale(server: &Server, auth: Option<&str>, count: usize) -> (f64, f64) {
    warm_up(server, auth).await;
    let baseline = server.rss_kib() as f64;
    let (clients, _) = connect(server.addr, 0..count, auth).await;
    let rss = server.rss_kib() as f64;
    drop(clients);
    ((rss - baseline) / count as f64, rss)
}

/// Warms up the server's allocator and lazily built state; measurements start from there.
pub(crate) async fn warm_up(server: &Server, auth: Option<&str>) {
    drop(connect(server.addr, 0..AT_ONCE, auth).await);
}

/// Opens the connections numbered `range`, [`AT_ONCE`] at a time, each from its loopback source
/// address; returns them and each one's handshake time.
pub(crate) async fn connect(
    addr: SocketAddr,
    range: Range<usize>,
    auth: Option<&str>,
) -> (Vec<RawClient>, Vec<Duration>) {
    let mut clients = Vec::with_capacity(range.len());
    let mut times = Vec::with_capacity(range.len());
    for batch in range.clone().step_by(AT_ONCE) {
        let opened = join_all((batch..range.end.min(batch + AT_ONCE)).map(|i| async move {
            let last = u8::try_from(1 + i / PER_SOURCE).expect("at most 254 source addresses");
            let started = Instant::now();
            let client = if last == 1 {
                RawClient::connect(addr, auth).await
            } else {
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
                RawClient::connect_from(source, addr, auth).await
            };
            let handshake = started.elapsed();
            client.reset_on_drop();
            (client, handshake)
        }))
        .await;
        for (client, time) in opened {
            clients.push(client);
            times.push(time);
        }
    }
    (clients, times)
}

/// Acked echo of every variant at once: each server, fresh, gets `clients` clients, and the
/// variants take turns sending for one `slice` each, `slices` times, the order rotating each time
/// (after one turn each that is not counted), so a slower minute of the machine weighs on all of
/// them alike. Per variant: each slice's round trips per second, and the p99 of all its round
/// trips in ms.
pub(crate) async fn echo(
    servers: &[(Server, Option<&str>)],
    clients: usize,
    slice: Duration,
    slices: usize,
) -> Vec<(Vec<f64>, f64)> {
    let mut all = Vec::new();
    for (server, auth) in servers {
        all.push(connect(server.addr, 0..clients, *auth).await.0);
    }
    for clients in &mut all {
        round_trips(clients, slice).await;
    }
    let n = servers.len();
    let mut rates = vec![Vec::new(); n];
    let mut times = vec![Vec::new(); n];
    for turn in 0..slices {
        for i in in_turn(n, turn) {
            let started = Instant::now();
            let slice_times = round_trips(&mut all[i], slice).await;
            rates[i].push(slice_times.len() as f64 / started.elapsed().as_secs_f64());
            times[i].extend(slice_times);
        }
    }
    rates
        .into_iter()
        .zip(&mut times)
        .map(|(rates, times)| (rates, p99_ms(times)))
        .collect()
}

/// The order in which `n` servers take turn `turn`: rotated by one each turn, so none always goes
/// first.
pub(crate) fn in_turn(n: usize, turn: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + turn) % n)
}

/// Every client sends acked `echo` events one after the other for `duration`: each round trip's
/// time.
pub(crate) async fn round_trips(clients: &mut [RawClient], duration: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + duration;
    let tasks = clients.iter_mut().map(|client| async move {
        let mut times = Vec::new();
        let mut id = 0;
        while Instant::now() < deadline {
            let started = Instant::now();
            client
                .emit_with_ack(id, "echo", "{\"n\":1,\"text\":\"hello\"}")
                .await;
            times.push(started.elapsed());
            id += 1;
        }
        times
    });
    join_all(tasks).await.into_iter().flatten().collect()
}

/// What the clients of one broadcast burst received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Burst {
    /// Messages the server was asked to deliver (burst length × clients).
    pub(crate) sent: u64,
    pub(crate) delivered: u64,
    /// Delivered messages per second, from the request to the last arrival.
    pub(crate) per_second: f64,
    /// Messages the server counted as refused by full buffers, where it counts them.
    pub(crate) counted: Option<u64>,
}

/// `clients` clients connect; the first asks for a burst of `n` `tick` messages to everyone, and
/// every client counts what arrives until it has all `n` or nothing came for [`QUIET`] ([`FIRST`]
/// before the first message).
pub(crate) async fn burst(
    addr: SocketAddr,
    auth: Option<&str>,
    clients: usize,
    n: u32,
    counts_drops: bool,
) -> Burst {
    let (mut clients, _) = connect(addr, 0..clients, auth).await;
    let requester = clients.swap_remove(0);
    let started = Instant::now();
    let receive = |mut client: RawClient, request: bool| async move {
        if request {
            client.send(format!("42[\"burst\",{n}]")).await;
        }
        let (mut received, mut last) = (0u32, started);
        while received < n {
            let wait = if received == 0 { FIRST } else { QUIET };
            match timeout(wait, client.try_next_event()).await {
                Ok(Some((_, event))) if event.starts_with("[\"tick\"") => {
                    received += 1;
                    last = Instant::now();
                }
                Ok(Some(_)) => {}
                // Timed out, or the server closed the connection (a client that missed its
                // heartbeats while its backlog was written): what arrived is what it got.
                Ok(None) | Err(_) => break,
            }
        }
        (received, last)
    };
    let readers = clients
        .into_iter()
        .map(|c| tokio::spawn(receive(c, false)))
        .chain([tokio::spawn(receive(requester, true))]);
    let results = join_all(readers).await;
    let count = results.len() as u64;
    let (mut delivered, mut last) = (0, started);
    for (received, arrived) in results.into_iter().map(|r| r.expect("reader")) {
        delivered += u64::from(received);
        last = last.max(arrived);
    }
    let counted = if counts_drops {
        Some(dropped_count(addr, auth).await)
    } else {
        None
    };
    Burst {
        sent: u64::from(n) * count,
        delivered,
        per_second: delivered as f64 / (last - started).as_secs_f64().max(1e-9),
        counted,
    }
}

/// Asks the server how many messages it counted as dropped (the `dropped` event's ack).
async fn dropped_count(addr: SocketAddr, auth: Option<&str>) -> u64 {
    let mut client = RawClient::connect(addr, auth).await;
    client.send("421[\"dropped\"]".into()).await;
    loop {
        if let Some(args) = client.next_packet().await.strip_prefix("431") {
            return args
                .trim_matches(['[', ']'])
                .parse()
                .unwrap_or_else(|_| panic!("unexpected dropped count {args}"));
        }
    }
}

/// The 99th percentile of `times`, in milliseconds.
fn p99_ms(times: &mut [Duration]) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort_unstable();
    times[(times.len() * 99 / 100).min(times.len() - 1)].as_secs_f64() * 1e3
}
