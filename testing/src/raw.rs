//! [`RawClient`]: a minimal Socket.IO client over a raw WebSocket (Engine.IO v4, namespace `/`).
//!
//! It costs almost nothing to run, so load generators measure the server, and it can answer the
//! acknowledgements a server asks for (which the `rust_socketio` client cannot).

use std::net::{IpAddr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// A connected raw client; it answers Engine.IO pings itself. Panics on protocol errors: test use only.
pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient").finish_non_exhaustive()
    }
}

/// One Engine.IO long-polling request (`query` appended to the transport's), on a connection of its
/// own; returns the response body.
async fn polling_request(addr: SocketAddr, method: &str, query: &str, body: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let request = format!(
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {response}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{method} failed: {head}");
    assert!(
        !head.to_ascii_lowercase().contains("chunked"),
        "chunked body: {head}"
    );
    body.to_owned()
}

impl RawClient {
    /// Opens the Engine.IO session and connects to namespace `/` with an optional `auth` JSON payload.
    pub async fn connect(addr: SocketAddr, auth: Option<&str>) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        Self::open(tcp, addr, auth).await
    }

    /// Connects like [`RawClient::connect`] from the local address `source` (e.g. `127.0.0.2`):
    /// one load generator can hold more connections than one address has ephemeral ports.
    pub async fn connect_from(source: IpAddr, addr: SocketAddr, auth: Option<&str>) -> Self {
        let socket = match source {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .expect("tcp socket");
        // Ports of this address's closed connections (TIME_WAIT) may be bound again.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(SocketAddr::new(source, 0))
            .expect("bind the source address");
        let tcp = socket.connect(addr).await.expect("tcp connect");
        Self::open(tcp, addr, auth).await
    }

    /// Connects like [`RawClient::connect`] over `tcp`, a connection to `addr` the caller set up
    /// (e.g. with a small receive buffer).
    pub async fn open(tcp: TcpStream, addr: SocketAddr, auth: Option<&str>) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
        let mut client = Self { ws };
        let open = client.next_packet().await;
        assert!(
            open.starts_with('0'),
            "expected the open packet, got {open}"
        );
        client.send(format!("40{}", auth.unwrap_or(""))).await;
        client.connected().await
    }

    /// Reads the server's CONNECT answer, which must be next.
    async fn connected(mut self) -> Self {
        let connected = self.next_packet().await;
        assert!(
            connected.starts_with("40"),
            "expected CONNECT, got {connected}"
        );
        self
    }

    /// Opens the session over HTTP long-polling and connects to namespace `/` there, then upgrades
    /// the session to a websocket on a second connection, as the official clients do by default.
    pub async fn connect_upgraded(addr: SocketAddr) -> Self {
        let open = polling_request(addr, "GET", "", "").await;
        let open: serde_json::Value = serde_json::from_str(
            open.strip_prefix('0')
                .unwrap_or_else(|| panic!("expected the open packet, got {open}")),
        )
        .expect("open packet JSON");
        let sid = open["sid"].as_str().expect("a session id");
        let session = format!("&sid={sid}");
        assert_eq!(polling_request(addr, "POST", &session, "40").await, "ok");

        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{session}");
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket upgrade");
        let mut client = Self { ws };
        client.send("2probe".into()).await;
        assert_eq!(client.next_packet().await, "3probe");
        client.send("5".into()).await;
        // The CONNECT answer, queued while no poll was waiting, comes over the websocket.
        client.connected().await
    }

    /// Makes dropping this client close its connection with a TCP reset: its port is free again at
    /// once instead of after TIME_WAIT, so a load generator can open tens of thousands of
    /// connections run after run.
    pub fn reset_on_drop(&self) {
        if let MaybeTlsStream::Plain(tcp) = self.ws.get_ref() {
            let _ = tcp.set_zero_linger();
        }
    }

    /// Sends one raw packet.
    pub async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next packet that is not an Engine.IO ping (pings are answered).
    pub async fn next_packet(&mut self) -> String {
        self.try_next_packet().await.expect("connection open")
    }

    /// Like [`next_packet`](Self::next_packet), or `None` once the server closed the connection.
    pub async fn try_next_packet(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) if t.as_str() == "2" => self.send("3".into()).await,
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next event (`42[...]` or `42<ack id>[...]`): its ack id, if the server wants one, and its
    /// JSON array of name and arguments.
    pub async fn next_event(&mut self) -> (Option<u64>, String) {
        self.try_next_event().await.expect("connection open")
    }

    /// Like [`next_event`](Self::next_event), or `None` once the server closed the connection.
    pub async fn try_next_event(&mut self) -> Option<(Option<u64>, String)> {
        loop {
            let packet = self.try_next_packet().await?;
            if let Some(rest) = packet.strip_prefix("42") {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let id = rest[..digits].parse().ok();
                return Some((id, rest[digits..].to_owned()));
            }
        }
    }

    /// Answers the server's ack `id` with these arguments (a JSON array).
    pub async fn ack(&mut self, id: u64, args: &str) {
        self.send(format!("43{id}{args}")).await;
    }

    /// Emits `event` with `payload` (JSON) and ack `id`, and waits for that ack.
    pub async fn emit_with_ack(&mut self, id: u64, event: &str, payload: &str) {
        self.send(format!("42{id}[\"{event}\",{payload}]")).await;
        let expected = format!("43{id}[");
        while !self.next_packet().await.starts_with(&expected) {}
    }
}
