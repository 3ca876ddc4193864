//! `#[iostack::hooks]` end to end: init order, handlers in their namespace behind the app's stacks,
//! connection and disconnect hooks, with real clients.

mod common;

use std::sync::{Arc, Mutex};

use iostack::{
    App, HookError, Identity, InitContext, Io,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};
use iostack_testing::{TestClient, TestError, TestServer};
use serde_json::json;
use tokio::sync::mpsc;

#[derive(Clone, Default)]
struct State {
    log: Arc<Mutex<Vec<String>>>,
}

impl State {
    fn push(&self, entry: impl Into<String>) {
        self.log.lock().unwrap().push(entry.into());
    }
    fn entries(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

struct Chat {
    disconnected: mpsc::UnboundedSender<String>,
}

#[iostack::hooks]
impl Chat {
    async fn init(&self, cx: &mut InitContext<State>) -> Result<(), HookError> {
        cx.state.push("chat:init");
        Ok(())
    }

    #[on_connection(ns = "/chat")]
    async fn joined(&self, socket: SocketRef, user: Identity) {
        let _ = socket.emit("welcome", &user.id);
    }

    #[event("say", ns = "/chat")]
    async fn say(&self, socket: SocketRef, Data(text): Data<String>, ack: AckSender) {
        let _ = socket.within("everyone").emit("said", &text).await;
        let _ = ack.send(&json!({ "ns": socket.ns(), "text": text }));
    }

    #[event("whoami")]
    async fn whoami(&self, user: Option<Identity>, ack: AckSender) {
        let _ = ack.send(&user.as_ref().map(|u| &u.id));
    }

    #[on_disconnect(ns = "/chat")]
    async fn left(&self, socket: SocketRef, reason: DisconnectReason) {
        let _ = self
            .disconnected
            .send(format!("{}:{reason:?}", socket.ns()));
    }

    /// An ordinary method stays callable.
    fn describe(&self) -> &'static str {
        "chat hooks"
    }
}

struct Audit;

#[iostack::hooks(state = State)]
impl Audit {
    #[on_shutdown]
    async fn stopping(&self, io: Io) {
        let _ = io.emit("bye", &1).await;
    }
}

struct Second;

#[iostack::hooks]
impl Second {
    async fn init(&self, cx: &mut InitContext<State>) -> Result<(), HookError> {
        cx.state
            .push(format!("second:init:{}", cx.io.adapter_name()));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macro_hooks_run_in_order_in_their_namespace_behind_the_stacks() {
    let state = State::default();
    let (tx, mut disconnected) = mpsc::unbounded_channel();
    let chat = Chat { disconnected: tx };
    assert_eq!(chat.describe(), "chat hooks");
    let app = App::builder(state.clone())
        .namespace("/chat", |ns| ns.on_connect(common::token_auth()))
        .hooks(chat)
        .hooks(Second)
        .hooks(Audit)
        .build()
        .await
        .unwrap();
    assert_eq!(state.entries(), ["chat:init", "second:init:memory"]);
    let server = TestServer::start(app).await.unwrap();

    // The namespace's connect stack applies to macro-registered handlers.
    let refused = TestClient::builder(server.url())
        .namespace("/chat")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(m) if m == "Authentication required"),
        "{refused}"
    );

    let mut client = TestClient::builder(server.url())
        .namespace("/chat")
        .auth(json!({ "token": "user:4" }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.wait_for("welcome").await.unwrap(),
        vec![json!("4")],
        "on_connection ran first"
    );
    let reply = client.emit_with_ack("say", "hello").await.unwrap();
    assert_eq!(reply, json!([{ "ns": "/chat", "text": "hello" }]));
    // A bad payload is answered like any handler's.
    let reply = client
        .emit_with_ack("say", json!({ "not": "text" }))
        .await
        .unwrap();
    assert!(
        reply[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid payload for `say`")
    );

    // `whoami` lives in `/`, not in `/chat`.
    let reply = client.emit_with_ack("whoami", json!(null)).await.unwrap();
    assert_eq!(
        reply,
        json!([{ "error": { "message": "Unknown event `whoami`" } }])
    );
    let root = TestClient::connect(&server.url()).await.unwrap();
    assert_eq!(
        root.emit_with_ack("whoami", json!(null)).await.unwrap(),
        json!([null])
    );

    client.disconnect().await.unwrap();
    let left = tokio::time::timeout(iostack_testing::WAIT, disconnected.recv())
        .await
        .unwrap();
    assert_eq!(left.as_deref(), Some("/chat:ClientNSDisconnect"));

    let mut root = root;
    server.stop().await.unwrap();
    assert_eq!(
        root.wait_for("bye").await.unwrap(),
        vec![json!(1)],
        "on_shutdown ran"
    );
}
