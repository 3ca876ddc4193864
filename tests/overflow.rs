//! The app's overflow policy: under `Overflow::Wait` a broadcast waits, within its bound, for a slow
//! client to make room instead of dropping; what is never taken is still counted; and across nodes
//! every client gets the message exactly once. Under `Overflow::Disconnect` the slow consumer's
//! connection is closed, whichever way its session reached the websocket.
//!
//! The single-node tests run on one thread: while a handler emits without awaiting anything, the
//! socket's writer cannot run, so an 8-message queue is full after 8 messages, every run.

mod common;

use std::{net::SocketAddr, path::Path, process::Stdio, time::Duration};

use iostack::{
    App, AppBuilder, BroadcastError, Hooks, async_trait,
    delivery::Overflow,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{RawClient, TestClient, TestServer, services::RedisServer};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{ChildStdout, Command},
};

const BUFFER: usize = 8;
const BURST: u64 = 200;

/// An app whose `burst` handler broadcasts `n` ticks to the other clients and acks how many
/// were refused.
async fn burst_app(overflow: Overflow) -> App<()> {
    burst_builder(overflow).build().await.unwrap()
}

fn burst_builder(overflow: Overflow) -> AppBuilder<()> {
    App::builder(())
        .max_buffer_size(BUFFER)
        .overflow(overflow)
        .on(
            "burst",
            async |socket: SocketRef, Data(n): Data<u64>, ack: AckSender| {
                let mut refused = 0u64;
                for i in 0..n {
                    if socket.broadcast().emit("tick", &i).await.is_err() {
                        refused += 1;
                    }
                }
                let _ = ack.send(&refused);
            },
        )
}

/// The ticks `reader` receives up to the last one of a [`BURST`], in arrival order.
async fn ticks_until_last(mut reader: RawClient) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        let (_, event) = reader.next_event().await;
        let tick: (String, u64) = serde_json::from_str(&event).unwrap();
        seen.push(tick.1);
        if tick.1 == BURST - 1 {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_burst_waits_for_the_reader_instead_of_dropping() {
    let app = burst_app(Overflow::Wait(Duration::from_secs(60))).await;
    let deliveries = app.io().deliveries().clone();
    let server = TestServer::start(app).await.unwrap();
    let reader = RawClient::connect(server.addr(), None).await;
    let reading = tokio::spawn(ticks_until_last(reader));
    let sender = TestClient::connect(&server.url()).await.unwrap();

    let reply = sender.emit_with_ack("burst", json!(BURST)).await.unwrap();
    assert_eq!(reply, json!([0]), "no tick refused");
    let seen = tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .expect("the reader got the last tick")
        .unwrap();
    assert_eq!(seen, (0..BURST).collect::<Vec<_>>(), "every tick, in order");
    assert_eq!(deliveries.dropped(), 0);
}

/// The same burst under the default policy overflows the queue: what the test above checks is
/// the wait, not a burst small enough to fit.
#[tokio::test]
async fn the_same_burst_drops_and_counts_by_default() {
    let app = burst_app(Overflow::default()).await;
    let (reply, deliveries, _server) =
        common::ask_past_a_stalled_client(app, "burst", json!(BURST)).await;
    let refused = reply[0].as_u64().expect("a count");
    assert_eq!(refused, BURST - BUFFER as u64, "the queue held {BUFFER}");
    assert_eq!(deliveries.dropped(), refused);
    assert_eq!(deliveries.slow_consumers_disconnected(), 0);
}

/// Sends each disconnect reason on.
struct Disconnects(tokio::sync::mpsc::UnboundedSender<DisconnectReason>);

#[async_trait]
impl Hooks<()> for Disconnects {
    async fn on_disconnect(&self, _: &SocketRef, reason: DisconnectReason) {
        let _ = self.0.send(reason);
    }
}

/// Under `Overflow::Disconnect`, a burst from a second client finds the queue of the client
/// `open_stalled` connects full: the burst goes on, what that client refused is counted, and its
/// connection is closed, once.
async fn a_burst_disconnects(open_stalled: impl AsyncFnOnce(SocketAddr) -> RawClient) {
    let (tx, mut disconnects) = tokio::sync::mpsc::unbounded_channel();
    let app = burst_builder(Overflow::Disconnect)
        .hooks(Disconnects(tx))
        .build()
        .await
        .unwrap();
    let deliveries = app.io().deliveries().clone();
    let monitor = app.monitor();
    let server = TestServer::start(app).await.unwrap();
    let mut stalled = open_stalled(server.addr()).await;
    let sender = TestClient::connect(&server.url()).await.unwrap();

    let reply = sender.emit_with_ack("burst", json!(BURST)).await.unwrap();
    let refused = BURST - BUFFER as u64;
    assert_eq!(reply, json!([refused]), "the queue held {BUFFER}");
    assert_eq!(deliveries.dropped(), refused);
    assert_eq!(deliveries.slow_consumers_disconnected(), 1);
    assert_eq!(deliveries.slow_consumers_disconnected_in_namespace("/"), 1);
    let metrics = monitor.prometheus().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "iostack_slow_consumers_disconnected_total{namespace=\"/\"} 1"),
        "{metrics}"
    );
    assert_eq!(monitor.json().await["slow_consumers_disconnected"], 1);

    // The client reads what reached it before the close, then the end of its connection.
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut ticks = 0;
        while stalled.try_next_event().await.is_some() {
            ticks += 1;
        }
        ticks
    })
    .await
    .expect("the server closed the slow consumer's connection");
    assert!(read <= BUFFER, "{read} ticks");
    let reason = tokio::time::timeout(Duration::from_secs(10), disconnects.recv()).await;
    assert_eq!(
        reason.expect("its socket was disconnected"),
        Some(DisconnectReason::TransportError)
    );
    // The sender, which broadcasts do not reach, is served as before.
    let reply = sender.emit_with_ack("burst", json!(1)).await.unwrap();
    assert_eq!(reply, json!([0]));
    assert_eq!(deliveries.slow_consumers_disconnected(), 1);
}

#[tokio::test]
async fn a_slow_consumer_on_a_websocket_is_disconnected() {
    a_burst_disconnects(async |addr| RawClient::connect(addr, None).await).await;
}

/// The session opened over polling: its websocket is another connection than the handshake's.
#[tokio::test]
async fn a_slow_consumer_upgraded_from_polling_is_disconnected() {
    a_burst_disconnects(RawClient::connect_upgraded).await;
}

/// The official socket.io-client (`tests/node-cluster/reporting-client.mjs`) and the JSON lines
/// it reports.
struct OfficialClient {
    _node: tokio::process::Child,
    reports: Lines<BufReader<ChildStdout>>,
}

impl OfficialClient {
    fn connect(url: &str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node-cluster");
        assert!(
            dir.join("node_modules/socket.io-client").exists(),
            "socket.io-client is missing: run `npm ci` in {} (scripts/test.sh does)",
            dir.display()
        );
        let mut node = Command::new("node")
            .arg(dir.join("reporting-client.mjs"))
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start `node`: install Node.js 18+ (apt-get install nodejs npm)");
        let stdout = node.stdout.take().expect("piped");
        Self {
            _node: node,
            reports: BufReader::new(stdout).lines(),
        }
    }

    async fn next_report(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.reports.next_line())
            .await
            .expect("the official client reports within 30 s")
            .expect("its output")
            .expect("the official client runs");
        serde_json::from_str(&line).expect("a JSON line")
    }

    /// The id of the next connection, once on a websocket.
    async fn connected(&mut self) -> String {
        let report = self.next_report().await;
        report["connected"]
            .as_str()
            .unwrap_or_else(|| panic!("expected a connection, got {report}"))
            .to_owned()
    }
}

/// What the README promises of `Overflow::Disconnect`: the official client, upgraded from polling
/// as by default, is disconnected by a burst it cannot take, and reconnects in a new session.
#[tokio::test]
async fn the_official_client_reconnects_after_being_disconnected_as_a_slow_consumer() {
    let app = burst_app(Overflow::Disconnect).await;
    let deliveries = app.io().deliveries().clone();
    let server = TestServer::start(app).await.unwrap();
    let mut official = OfficialClient::connect(&server.url());
    let first = official.connected().await;
    let sender = TestClient::connect(&server.url()).await.unwrap();

    let reply = sender.emit_with_ack("burst", json!(BURST)).await.unwrap();
    assert_eq!(reply, json!([BURST - BUFFER as u64]));
    assert_eq!(deliveries.slow_consumers_disconnected(), 1);
    assert_eq!(
        official.next_report().await,
        json!({ "disconnected": "transport close" })
    );
    let second = official.connected().await;
    assert_ne!(first, second, "a new session");
}

#[tokio::test]
async fn what_a_stalled_client_never_takes_is_dropped_and_counted_after_the_bound() {
    let app = App::builder(())
        .max_buffer_size(BUFFER)
        .overflow(Overflow::Wait(Duration::from_millis(100)))
        .on(
            "flood",
            async |socket: SocketRef, ack: AckSender| -> Result<(), BroadcastError> {
                // Large, so that the client's kernel buffers fill after a few hundred.
                let big = "x".repeat(64 * 1024);
                let mut taken = 0u64;
                loop {
                    match socket.broadcast().emit("big", &big).await {
                        Ok(()) => taken += 1,
                        Err(BroadcastError::Socket(errors)) => {
                            let _ = ack.send(&json!({ "taken": taken, "refused": errors.len() }));
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    }
                }
            },
        )
        .build()
        .await
        .unwrap();
    let (reply, deliveries, _server) =
        common::ask_past_a_stalled_client(app, "flood", json!(null)).await;
    let taken = reply[0]["taken"].as_u64().expect("a count");
    assert_eq!(reply[0]["refused"], 1, "{reply}");
    // Without the wait, the ninth message would be refused: the writer had no turn yet.
    assert!(
        taken > BUFFER as u64,
        "the stalled client's kernel buffers took messages while the broadcast waited: {taken}"
    );
    assert_eq!(deliveries.dropped(), 1, "the one message never taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_broadcast_reaches_each_client_of_two_redis_nodes_once() {
    let redis = RedisServer::start().await.unwrap();
    let node = async || {
        let app = App::builder(())
            .adapter(RedisAdapter::new(RedisConfig::new(redis.url())))
            .overflow(Overflow::Wait(Duration::from_secs(5)))
            .on("rooms", async |socket: SocketRef, ack: AckSender| {
                let _ = ack.send(&socket.rooms());
            })
            .build()
            .await
            .unwrap();
        let io = app.io().clone();
        (TestServer::start(app).await.unwrap(), io)
    };
    let (a, a_io) = node().await;
    let (b, _b_io) = node().await;
    let mut on_a = TestClient::connect(&a.url()).await.unwrap();
    let mut on_b = TestClient::connect(&b.url()).await.unwrap();

    a_io.emit("one", &1).await.unwrap();
    a_io.emit("two", &2).await.unwrap();
    for (node, client) in [("a", &mut on_a), ("b", &mut on_b)] {
        let events = client.events_until("two").await.unwrap();
        let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["one", "two"], "each message once on node {node}");
    }
    // The room that kept node a's sockets out of the backend's broadcast is gone.
    let rooms = on_a.emit_with_ack("rooms", json!(null)).await.unwrap();
    assert_eq!(rooms, json!([[]]), "no room left behind");
    assert_eq!(a_io.deliveries().dropped(), 0);
}
