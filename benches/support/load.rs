//! A minimal Socket.IO load generator over raw WebSockets (Engine.IO v4), used by the benches:
//! it costs the generator far less than a full client library, so the server is what is measured.
#![allow(dead_code)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// One connected raw client.
pub(crate) struct RawClient {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl RawClient {
    /// Opens the Engine.IO session and connects to namespace `/` with an optional `auth` payload.
    pub(crate) async fn connect(addr: std::net::SocketAddr, auth: Option<&str>) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket handshake");
        let mut client = Self { ws };
        let open = client.next_text().await;
        assert!(
            open.starts_with('0'),
            "expected the open packet, got {open}"
        );
        client.send(format!("40{}", auth.unwrap_or(""))).await;
        let connected = client.next_text().await;
        assert!(
            connected.starts_with("40"),
            "expected CONNECT, got {connected}"
        );
        client
    }

    async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame that is not a ping (pings are answered).
    async fn next_text(&mut self) -> String {
        loop {
            match self
                .ws
                .next()
                .await
                .expect("connection open")
                .expect("frame")
            {
                Message::Text(t) if t.as_str() == "2" => self.send("3".into()).await,
                Message::Text(t) => return t.to_string(),
                _ => {}
            }
        }
    }

    /// The next event packet (`42[...]`), as text after the `42`.
    pub(crate) async fn next_event(&mut self) -> String {
        loop {
            let text = self.next_text().await;
            if let Some(event) = text.strip_prefix("42") {
                return event.to_owned();
            }
        }
    }

    /// Emits `event` with `payload` (JSON text) and an ack id, and waits for that ack.
    pub(crate) async fn emit_with_ack(&mut self, id: u64, event: &str, payload: &str) {
        self.send(format!("42{id}[\"{event}\",{payload}]")).await;
        let expected = format!("43{id}[");
        loop {
            let text = self.next_text().await;
            if text.starts_with(&expected) {
                return;
            }
        }
    }
}

/// Runs `clients` concurrent clients doing acked `event` round trips for `duration`;
/// returns round trips per second.
pub(crate) async fn ack_rate(
    addr: std::net::SocketAddr,
    auth: Option<&str>,
    clients: usize,
    duration: Duration,
    event: &'static str,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(RawClient::connect(addr, auth).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut client| {
            let (done, stop) = (done.clone(), stop.clone());
            tokio::spawn(async move {
                let mut id = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    client
                        .emit_with_ack(id, event, "{\"n\":1,\"text\":\"hello\"}")
                        .await;
                    done.fetch_add(1, Ordering::Relaxed);
                    id += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    for task in tasks {
        let _ = task.await;
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Median of a few samples.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}
