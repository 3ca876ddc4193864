//! [`RawClient`]: a minimal Socket.IO client over a raw WebSocket (Engine.IO v4, namespace `/`).
//!
//! It costs almost nothing to run, so load generators measure the server, and it can answer the
//! acknowledgements a server asks for (which the `rust_socketio` client cannot).

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
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

impl RawClient {
    /// Opens the Engine.IO session and connects to namespace `/` with an optional `auth` JSON payload.
    pub async fn connect(addr: std::net::SocketAddr, auth: Option<&str>) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket handshake");
        let mut client = Self { ws };
        let open = client.next_packet().await;
        assert!(
            open.starts_with('0'),
            "expected the open packet, got {open}"
        );
        client.send(format!("40{}", auth.unwrap_or(""))).await;
        let connected = client.next_packet().await;
        assert!(
            connected.starts_with("40"),
            "expected CONNECT, got {connected}"
        );
        client
    }

    /// Sends one raw packet.
    pub async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next packet that is not an Engine.IO ping (pings are answered).
    pub async fn next_packet(&mut self) -> String {
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

    /// The next event (`42[...]` or `42<ack id>[...]`): its ack id, if the server wants one, and its
    /// JSON array of name and arguments.
    pub async fn next_event(&mut self) -> (Option<u64>, String) {
        loop {
            let packet = self.next_packet().await;
            if let Some(rest) = packet.strip_prefix("42") {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let id = rest[..digits].parse().ok();
                return (id, rest[digits..].to_owned());
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
