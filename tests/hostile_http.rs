//! Hostile HTTP clients against the server's limits: silent and slow connections are closed, the
//! connection cap holds (websockets included), oversized websocket messages and stalled polling
//! bodies are refused, a client that stops reading is closed (also at the shutdown, and so is a
//! session the client keeps open), and a healthy client is served throughout.

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use iostack::{
    App, Hooks, Io, ServerLimits, ShutdownOptions,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};
use iostack_testing::{RawClient, TestServer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel},
    time::timeout,
};
use tokio_tungstenite::tungstenite::Message;

/// Any wait in these tests: a hang fails the test instead of blocking the suite.
const BOUND: Duration = Duration::from_secs(10);

async fn server(limits: ServerLimits, max_payload: usize) -> TestServer {
    let app = App::builder(())
        .server_limits(limits)
        .max_payload(max_payload)
        .on("echo", echo)
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

async fn echo(Data(v): Data<serde_json::Value>, ack: AckSender) {
    let _ = ack.send(&v);
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    timeout(BOUND, tcp.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    received
}

/// A healthy client still gets its echo answered.
async fn healthy_echo(addr: SocketAddr) {
    let mut client = timeout(BOUND, RawClient::connect(addr, None))
        .await
        .expect("healthy client connects");
    client.send(r#"421["echo","still here"]"#.into()).await;
    let ack = timeout(BOUND, async {
        loop {
            let packet = client.next_packet().await;
            if packet.starts_with("43") {
                return packet;
            }
        }
    })
    .await
    .expect("echo ack");
    assert_eq!(ack, r#"431["still here"]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slowloris_connections_are_closed_at_the_header_timeout() {
    let limits = ServerLimits::new().header_timeout(Duration::from_millis(300));
    let server = server(limits, 100_000).await;
    let addr = server.addr();

    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        slow.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n")
            .await
            .unwrap();
        // One header byte at a time, far slower than any client sends headers.
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        until_closed(&mut slow).await
    });

    for tcp in &mut silent {
        assert!(until_closed(tcp).await.is_empty(), "nothing is answered");
    }
    let answered = timeout(BOUND, trickle).await.unwrap().unwrap();
    let answered = String::from_utf8_lossy(&answered);
    assert!(
        answered.is_empty() || answered.starts_with("HTTP/1.1 408"),
        "slow headers are not served: {answered}"
    );
    println!("51 silent or slow connections closed by the header timeout");
    healthy_echo(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_closes() {
    let limits = ServerLimits::new().max_connections(3);
    let server = server(limits, 100_000).await;
    let addr = server.addr();

    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let handshake = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        until_closed(&mut tcp).await
    });
    // The fourth connection sits in the listen backlog while three are held: nothing can be
    // awaited for "not served", so give it half a second to (wrongly) be answered...
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!handshake.is_finished(), "served past the cap");
    // ...and is served as soon as one of them closes.
    drop(held.pop());
    let answer = timeout(BOUND, handshake).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"sid\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_websockets_count_against_the_cap() {
    let limits = ServerLimits::new().max_connections(2);
    let server = server(limits, 100_000).await;
    let addr = server.addr();

    // Two connected socket.io clients: their connections left HTTP for websocket.
    let first = timeout(BOUND, RawClient::connect(addr, None))
        .await
        .unwrap();
    let _second = timeout(BOUND, RawClient::connect(addr, None))
        .await
        .unwrap();
    let handshake = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        until_closed(&mut tcp).await
    });
    // As above: "not served" cannot be awaited, so the third connection gets half a second.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!handshake.is_finished(), "served past the cap");
    drop(first);
    let answer = timeout(BOUND, handshake).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// What the flooding app below saw, in order.
#[derive(Debug)]
enum Seen {
    Flooded { refused: usize },
    ShuttingDown,
    Disconnected(DisconnectReason),
    Stopped,
}

struct Record(UnboundedSender<Seen>);

#[async_trait::async_trait]
impl Hooks<()> for Record {
    async fn on_disconnect(&self, _: &SocketRef, reason: DisconnectReason) {
        let _ = self.0.send(Seen::Disconnected(reason));
    }
    async fn on_shutdown(&self, _: &Io) {
        let _ = self.0.send(Seen::ShuttingDown);
    }
    async fn on_stopped(&self, _: &Io) {
        let _ = self.0.send(Seen::Stopped);
    }
}

/// An app whose `flood` event sends the socket 10 kB messages until its connection stalls: rounds
/// of 100, a short pause between rounds, until a whole round is refused. The socket's buffer is
/// then full and its writer waits on a client that reads nothing.
async fn flooding_app(limits: ServerLimits, seen: UnboundedSender<Seen>) -> App<()> {
    let flooded = seen.clone();
    App::builder(())
        .server_limits(limits)
        // Long enough for a client that starts reading at the shutdown to take the notice even on
        // a loaded machine: nobody leaves, so every shutdown here waits all of it.
        .shutdown(ShutdownOptions::new().drain(Duration::from_secs(1)))
        .on("flood", async move |socket: SocketRef| {
            let message = "x".repeat(10_000);
            let mut refused = 0;
            for _ in 0..1000 {
                let accepted = (0..100)
                    .filter(|_| socket.emit("big", &message).is_ok())
                    .count();
                refused += 100 - accepted;
                if accepted == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = flooded.send(Seen::Flooded { refused });
        })
        .on("echo", echo)
        .hooks(Record(seen))
        .build()
        .await
        .unwrap()
}

/// A socket.io client with a small receive window that asks for the flood and then never reads.
async fn stalled_client(addr: SocketAddr) -> RawClient {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let tcp = timeout(BOUND, tcp.connect(addr)).await.unwrap().unwrap();
    let mut client = timeout(BOUND, RawClient::open(tcp, addr, None))
        .await
        .unwrap();
    client.send(r#"42["flood"]"#.into()).await;
    client
}

async fn next_seen(seen: &mut UnboundedReceiver<Seen>) -> Seen {
    timeout(BOUND, seen.recv())
        .await
        .expect("the app reports within the bound")
        .unwrap()
}

/// What the app saw until its `on_stopped` hooks ran.
async fn seen_until_stopped(seen: &mut UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut before_stopped = Vec::new();
    loop {
        match next_seen(seen).await {
            Seen::Stopped => return before_stopped,
            other => before_stopped.push(other),
        }
    }
}

/// Waits for the flood's report: some of its messages were refused, so the socket's buffer is
/// full.
async fn expect_flooded(seen: &mut UnboundedReceiver<Seen>) {
    let flooded = next_seen(seen).await;
    assert!(
        matches!(flooded, Seen::Flooded { refused } if refused > 0),
        "{flooded:?}"
    );
}

/// A flooded app served within `limits`, and a client that stopped reading, its socket's buffer
/// full.
async fn stalled_session(
    limits: ServerLimits,
) -> (TestServer, Io, RawClient, UnboundedReceiver<Seen>) {
    let (tx, mut seen) = unbounded_channel();
    let app = flooding_app(limits, tx).await;
    let io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let client = stalled_client(server.addr()).await;
    expect_flooded(&mut seen).await;
    (server, io, client, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_at_the_send_timeout() {
    let limits = ServerLimits::new().send_timeout(Duration::from_millis(300));
    let (server, _io, _client, mut seen) = stalled_session(limits).await;
    // The heartbeat would take 45 s to notice; the send timeout closes it well within the bound.
    let closed = next_seen(&mut seen).await;
    assert!(
        matches!(
            closed,
            Seen::Disconnected(DisconnectReason::TransportError | DisconnectReason::TransportClose)
        ),
        "{closed:?}"
    );
    healthy_echo(server.addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_while_a_client_stops_reading() {
    // Long enough that the shutdown usually starts while the connection is stalled (on a loaded
    // machine the timeout may close it first: the order below holds either way).
    let limits = ServerLimits::new().send_timeout(Duration::from_secs(2));
    let (server, _io, _client, mut seen) = stalled_session(limits).await;

    // The socket's buffer is full, so its disconnect packet is refused; its writer is stuck on
    // the stalled connection until the send timeout ends it.
    server.stop().await.expect("serve returns");
    let before_stopped = seen_until_stopped(&mut seen).await;
    assert!(
        before_stopped
            .iter()
            .any(|seen| matches!(seen, Seen::Disconnected(_))),
        "disconnect bookkeeping before on_stopped: {before_stopped:?}"
    );
}

/// Reads what the server sends until socket.io's disconnect (`41`) or the end of the connection;
/// returns what came apart from the flood's messages.
async fn read_to_disconnect(client: &mut RawClient) -> Vec<String> {
    timeout(BOUND, async {
        let mut read = Vec::new();
        while let Some(packet) = client.try_next_packet().await {
            if !packet.starts_with(r#"42["big""#) {
                read.push(packet.clone());
            }
            if packet == "41" {
                break;
            }
        }
        read
    })
    .await
    .expect("the client reads to the end within the bound")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_still_gets_the_shutdown_notice_and_its_disconnect() {
    let (server, io, mut client, _seen) = stalled_session(ServerLimits::new()).await;

    // The notice goes out at once, into this socket's full buffer; the client starts reading
    // during the drain.
    let stopping = tokio::spawn(server.stop());
    let read = read_to_disconnect(&mut client).await;
    assert_eq!(read.len(), 2, "{read:?}");
    assert!(read[0].starts_with(r#"42["server:shutdown",{"#), "{read:?}");
    assert_eq!(read[1], "41");
    timeout(BOUND, stopping).await.unwrap().unwrap().unwrap();
    assert_eq!(io.deliveries().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_only_after_the_drain_still_gets_its_disconnect() {
    let (server, io, mut client, mut seen) = stalled_session(ServerLimits::new()).await;

    let stopping = tokio::spawn(server.stop());
    let shutting_down = next_seen(&mut seen).await;
    assert!(
        matches!(shutting_down, Seen::ShuttingDown),
        "{shutting_down:?}"
    );
    // The drain is over and the disconnect packets go out right after the shutdown hooks, into
    // this socket's full buffer; the client only now starts reading. Its notice, refused for the
    // whole drain, is counted as dropped.
    let read = read_to_disconnect(&mut client).await;
    assert_eq!(read.last().map(String::as_str), Some("41"), "{read:?}");
    timeout(BOUND, stopping).await.unwrap().unwrap().unwrap();
    assert_eq!(io.deliveries().dropped_in_namespace("/"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_a_stalled_connection_when_the_send_timeout_is_far() {
    let (tx, mut seen) = unbounded_channel();
    let limits = ServerLimits::new().send_timeout(Duration::from_secs(600));
    let app = flooding_app(limits, tx).await;
    let listener = iostack::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    let _client = stalled_client(addr).await;
    expect_flooded(&mut seen).await;

    // The stalled socket refuses its disconnect packet until the disconnect step's bound (5 s);
    // then the server closes its connection, so its bookkeeping runs before on_stopped instead
    // of at the send timeout, and closing socket.io does not wait for its writer.
    stop.send(()).unwrap();
    timeout(Duration::from_secs(30), serving)
        .await
        .expect("serve returns within the shutdown's bounds")
        .unwrap()
        .unwrap();
    let before_stopped = seen_until_stopped(&mut seen).await;
    assert!(
        matches!(
            before_stopped.as_slice(),
            [
                Seen::ShuttingDown,
                Seen::Disconnected(
                    DisconnectReason::TransportError | DisconnectReason::TransportClose
                )
            ]
        ),
        "{before_stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_client_keeps_open_is_closed_when_serve_returns() {
    let server = server(ServerLimits::new(), 1000).await;
    let mut client = timeout(BOUND, RawClient::connect(server.addr(), None))
        .await
        .unwrap();
    timeout(BOUND, server.stop()).await.unwrap().unwrap();

    // This client answers pings and never closes its Engine.IO session after socket.io's
    // disconnect, which socketioxide cannot close: the server closes its connection.
    let read = timeout(BOUND, async {
        let mut read = Vec::new();
        while let Some(packet) = client.try_next_packet().await {
            read.push(packet);
        }
        read
    })
    .await
    .expect("the connection ends within the bound");
    assert_eq!(read.len(), 2, "{read:?}");
    assert!(read[0].starts_with(r#"42["server:shutdown",{"#), "{read:?}");
    assert_eq!(read[1], "41");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_websocket_messages_close_only_that_connection() {
    let server = server(ServerLimits::new(), 1000).await;
    let addr = server.addr();

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let big = format!("42[\"echo\",\"{}\"]", "x".repeat(5000));
    let _ = ws.send(Message::text(big)).await;
    let closed = timeout(BOUND, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the oversized message closes the connection"
    );
    healthy_echo(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_polling_bodies_are_dropped_at_the_body_timeout() {
    let limits = ServerLimits::new().body_timeout(Duration::from_millis(300));
    let server = server(limits, 100_000).await;
    let addr = server.addr();

    // A real session, so that the server reads the body instead of refusing the sid up front.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let open = String::from_utf8_lossy(&until_closed(&mut tcp).await).into_owned();
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("handshake carries a sid")
        .to_owned();

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n40"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut tcp).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    healthy_echo(addr).await;
}
