//! [`TestClient`]: a real Socket.IO client (the `rust_socketio` crate) with waits that fail fast.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::{
    Event, Payload, TransportType,
    asynchronous::{Client, ClientBuilder},
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::WAIT;

/// What the client received: an event name and its arguments.
///
/// Lifecycle notices use reserved names: `connect`, `connect_error` (argument: the server's
/// message), `disconnect`; an `error` event of the server arrives as `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub args: Vec<Value>,
}

/// What went wrong in a test client.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The server refused the connection with this `connect_error` message.
    #[error("connection refused: {0}")]
    Refused(String),
    /// Nothing arrived in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The client library failed.
    #[error("socket.io client error: {0}")]
    Client(#[from] rust_socketio::Error),
    /// The connection closed while waiting.
    #[error("connection closed while waiting for {0}")]
    Closed(String),
}

/// The transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket only.
    Websocket,
    /// HTTP long polling only.
    Polling,
}

/// Configures a [`TestClient`] before it connects.
#[derive(Debug)]
pub struct TestClientBuilder {
    url: String,
    namespace: String,
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    transport: Transport,
}

impl TestClientBuilder {
    /// Connects to namespace `ns` instead of `/`.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// Sends this `auth` payload in the handshake.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Adds a header to the handshake request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Uses this transport (default: WebSocket).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Connects and waits for the server's answer: `Ok` once admitted, [`TestError::Refused`] with
    /// the `connect_error` message otherwise.
    pub async fn connect(self) -> Result<TestClient, TestError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let forward = |name: &'static str, tx: mpsc::UnboundedSender<Received>| {
            move |payload: Payload, _: Client| {
                let _ = tx.send(received(name, payload));
                async {}.boxed()
            }
        };
        let any_tx = tx.clone();
        let mut builder = ClientBuilder::new(self.url)
            .namespace(self.namespace)
            .reconnect(false)
            .transport_type(match self.transport {
                Transport::Websocket => TransportType::Websocket,
                Transport::Polling => TransportType::Polling,
            })
            .on(Event::Connect, forward("connect", tx.clone()))
            .on(Event::Close, forward("disconnect", tx.clone()))
            .on(Event::Error, forward("error", tx.clone()))
            .on_any(move |event: Event, payload: Payload, _: Client| {
                let _ = any_tx.send(received(event.as_str(), payload));
                async {}.boxed()
            });
        if let Some(auth) = self.auth {
            builder = builder.auth(auth);
        }
        for (name, value) in self.headers {
            builder = builder.opening_header(name, value);
        }
        let client = builder.connect().await?;
        let mut client = TestClient {
            client,
            events: rx,
            backlog: Vec::new(),
        };
        let first = client
            .next_matching("connect or connect_error", |r| {
                r.event == "connect" || r.event == "connect_error"
            })
            .await?;
        if first.event == "connect_error" {
            let message = first
                .args
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(TestError::Refused(message.to_owned()));
        }
        Ok(client)
    }
}

/// A connected Socket.IO client for tests.
pub struct TestClient {
    client: Client,
    events: mpsc::UnboundedReceiver<Received>,
    backlog: Vec<Received>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("backlog", &self.backlog)
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client for the server at `url` (e.g. `http://127.0.0.1:3000`), to configure.
    pub fn builder(url: impl Into<String>) -> TestClientBuilder {
        TestClientBuilder {
            url: url.into(),
            namespace: "/".into(),
            auth: None,
            headers: Vec::new(),
            transport: Transport::Websocket,
        }
    }

    /// Connects to namespace `/` of `url` over WebSocket.
    pub async fn connect(url: &str) -> Result<Self, TestError> {
        Self::builder(url).connect().await
    }

    /// Emits `event` with one argument.
    pub async fn emit(&self, event: &str, data: impl Serialize) -> Result<(), TestError> {
        self.emit_args(event, vec![to_json(data)]).await
    }

    /// Emits `event` with these arguments.
    pub async fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), TestError> {
        self.client.emit(event, Payload::Text(args)).await?;
        Ok(())
    }

    /// Emits `event` with one argument and waits for the ack; returns the ack's arguments.
    ///
    /// The client library draws ack ids from a small range: keep one ack in flight at a time.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        data: impl Serialize,
    ) -> Result<Value, TestError> {
        self.emit_args_with_ack(event, vec![to_json(data)]).await
    }

    /// Emits `event` with these arguments and waits for the ack; returns the ack's arguments.
    pub async fn emit_args_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<Value, TestError> {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(
                event,
                Payload::Text(args),
                WAIT,
                move |payload: Payload, _: Client| {
                    if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        // The library hands over the ack's argument array as one value.
                        let args = match received("ack", payload).args.as_slice() {
                            [Value::Array(args)] => args.clone(),
                            other => other.to_vec(),
                        };
                        let _ = tx.send(args);
                    }
                    async {}.boxed()
                },
            )
            .await?;
        match tokio::time::timeout(WAIT, rx).await {
            Ok(Ok(args)) => Ok(Value::Array(args)),
            _ => Err(TestError::Timeout(format!("ack of `{event}`"))),
        }
    }

    /// Waits for the next `event` and returns its arguments; other events are kept for later waits.
    pub async fn wait_for(&mut self, event: &str) -> Result<Vec<Value>, TestError> {
        Ok(self.next_matching(event, |r| r.event == event).await?.args)
    }

    /// Waits for the next event, whatever its name.
    pub async fn next_event(&mut self) -> Result<Received, TestError> {
        self.next_matching("any event", |_| true).await
    }

    /// Every event in arrival order, up to and including the next `last`. Events arrive in the
    /// order the server sent them, so this also shows what was *not* sent before `last`.
    pub async fn events_until(&mut self, last: &str) -> Result<Vec<Received>, TestError> {
        let mut seen = Vec::new();
        loop {
            let event = self.next_event().await?;
            let done = event.event == last;
            seen.push(event);
            if done {
                return Ok(seen);
            }
        }
    }

    /// Asserts that no `event` arrives within `within` (for checks that something did *not* happen).
    pub async fn expect_none(&mut self, event: &str, within: Duration) -> Result<(), Received> {
        match tokio::time::timeout(within, self.next_matching(event, |r| r.event == event)).await {
            Ok(Ok(r)) => Err(r),
            _ => Ok(()),
        }
    }

    /// Disconnects from the server.
    pub async fn disconnect(&self) -> Result<(), TestError> {
        self.client.disconnect().await?;
        Ok(())
    }

    async fn next_matching(
        &mut self,
        what: &str,
        matches: impl Fn(&Received) -> bool,
    ) -> Result<Received, TestError> {
        if let Some(i) = self.backlog.iter().position(&matches) {
            return Ok(self.backlog.remove(i));
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(TestError::Timeout(what.to_owned())),
                Ok(None) => return Err(TestError::Closed(what.to_owned())),
                Ok(Some(r)) if matches(&r) => return Ok(r),
                Ok(Some(r)) => self.backlog.push(r),
            }
        }
    }
}

fn to_json(data: impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or(Value::Null)
}

/// Turns a library callback into a [`Received`], recognising connect errors.
fn received(event: &str, payload: Payload) -> Received {
    let args = match payload {
        Payload::Text(args) => args,
        Payload::Binary(bytes) => vec![Value::from(bytes.to_vec())],
        #[allow(deprecated)]
        Payload::String(s) => vec![serde_json::from_str(&s).unwrap_or(Value::String(s))],
    };
    if let [Value::String(s)] = args.as_slice()
        && let Some(message) = connect_error_message(s)
    {
        return Received {
            event: "connect_error".into(),
            args: vec![Value::String(message)],
        };
    }
    Received {
        event: event.to_owned(),
        args,
    }
}

/// The server's message in the library's text for a CONNECT_ERROR packet.
fn connect_error_message(text: &str) -> Option<String> {
    let rest = text.strip_prefix("Received an ConnectError frame: ")?;
    let message = serde_json::from_str::<Value>(rest)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    Some(message.unwrap_or_else(|| rest.to_owned()))
}
