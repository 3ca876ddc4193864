//! The foundation, end to end: real servers on 127.0.0.1, real Socket.IO clients.

mod common;

use std::sync::{Arc, Mutex};

use iostack::{
    App, BuildError, HookError, Hooks, Identity, InitContext, Io,
    extract::{AckSender, Data, DisconnectReason, Event, SocketRef},
};
use iostack_testing::{TestClient, TestError, TestServer, Transport};
use serde::Deserialize;
use serde_json::{Value, json};

async fn echo_app() -> App<()> {
    App::builder(())
        .on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        })
        .build()
        .await
        .expect("app builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_ack_round_trip_over_websocket_and_polling() {
    let server = TestServer::start(echo_app().await).await.unwrap();
    for transport in [Transport::Websocket, Transport::Polling] {
        let client = TestClient::builder(server.url())
            .transport(transport)
            .connect()
            .await
            .unwrap();
        let reply = client
            .emit_with_ack("echo", json!({ "n": 1 }))
            .await
            .unwrap();
        assert_eq!(reply, json!([{ "n": 1 }]), "over {transport:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_connect_reaches_client_with_exact_message() {
    let app = App::builder(())
        .on_connect(common::token_auth())
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();

    let refused = TestClient::connect(&server.url()).await.unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(m) if m == "Authentication required"),
        "{refused}"
    );

    let refused = TestClient::builder(server.url())
        .auth(json!({ "token": "forged" }))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(m) if m == "Invalid token"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_receive_the_identity_attached_by_the_connect_stack() {
    let app = App::builder(())
        .on_connect(common::token_auth())
        .on("whoami", async |user: Identity, ack: AckSender| {
            let _ = ack.send(&json!({ "id": user.id, "roles": user.roles }));
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": "user:7:admin" }))
        .connect()
        .await
        .unwrap();
    let reply = client.emit_with_ack("whoami", json!(null)).await.unwrap();
    assert_eq!(reply, json!([{ "id": "7", "roles": ["admin"] }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_needing_identity_refuses_anonymous_socket() {
    let app = App::builder(())
        .on("whoami", async |user: Identity| drop(user))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();
    let reply = client.emit_with_ack("whoami", json!(null)).await.unwrap();
    assert_eq!(
        reply,
        json!([{ "error": { "message": "Authentication required" } }])
    );
}

#[derive(Debug, Deserialize)]
struct Move {
    x: i32,
    y: i32,
}

fn typed_app() -> iostack::AppBuilder<()> {
    App::builder(()).on("move", async |Data(m): Data<Move>, ack: AckSender| {
        let _ = ack.send(&json!({ "sum": m.x + m.y }));
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_data_is_decoded_for_the_handler() {
    let server = TestServer::start(typed_app().build().await.unwrap())
        .await
        .unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();
    let reply = client
        .emit_with_ack("move", json!({ "x": 2, "y": 40 }))
        .await
        .unwrap();
    assert_eq!(reply, json!([{ "sum": 42 }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payload_is_answered_with_error_ack_or_error_event() {
    let server = TestServer::start(typed_app().build().await.unwrap())
        .await
        .unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();

    let reply = client
        .emit_with_ack("move", json!({ "x": "left" }))
        .await
        .unwrap();
    let message = reply[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid payload for `move`"),
        "{message}"
    );

    client.emit("move", json!("not an object")).await.unwrap();
    let error = client.wait_for("error").await.unwrap();
    assert!(
        error[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid payload for `move`")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_event_gets_an_error_unless_a_fallback_handles_it() {
    let server = TestServer::start(echo_app().await).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    client.emit("nope", json!(1)).await.unwrap();
    let error = client.wait_for("error").await.unwrap();
    assert_eq!(error, vec![json!({ "message": "Unknown event `nope`" })]);

    let app = App::builder(())
        .fallback(async |Event(name): Event, ack: AckSender| {
            let _ = ack.send(&json!({ "fallback": name }));
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();
    assert_eq!(
        client.emit_with_ack("nope", json!(1)).await.unwrap(),
        json!([{ "fallback": "nope" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_error_reaches_the_client() {
    let app = App::builder(())
        .on("fail", async || Err::<(), _>("Channel not found"))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();
    let reply = client.emit_with_ack("fail", json!(null)).await.unwrap();
    assert_eq!(
        reply,
        json!([{ "error": { "message": "Channel not found" } }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_broadcast_reaches_members_only() {
    let app = App::builder(())
        .on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&true);
            },
        )
        .on(
            "say",
            async |socket: SocketRef, Data((room, text)): Data<(String, String)>| {
                socket.within(room).emit("said", &text).await
            },
        )
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let mut alice = TestClient::connect(&server.url()).await.unwrap();
    let mut bob = TestClient::connect(&server.url()).await.unwrap();
    let mut carol = TestClient::connect(&server.url()).await.unwrap();
    alice.emit_with_ack("join", "lobby").await.unwrap();
    bob.emit_with_ack("join", "lobby").await.unwrap();

    alice
        .emit_args("say", vec![json!("lobby"), json!("hello")])
        .await
        .unwrap();
    assert_eq!(alice.wait_for("said").await.unwrap(), vec![json!("hello")]);
    assert_eq!(bob.wait_for("said").await.unwrap(), vec![json!("hello")]);
    // carol is outside the room: a later direct message arrives, the room message never did.
    carol
        .emit_args("say", vec![json!("nobody"), json!("x")])
        .await
        .unwrap();
    assert!(
        carol
            .expect_none("said", std::time::Duration::from_millis(300))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_tracks_connections_until_disconnect() {
    let (tx, mut disconnected) = tokio::sync::mpsc::unbounded_channel();
    struct Notify(tokio::sync::mpsc::UnboundedSender<String>);
    #[async_trait::async_trait]
    impl Hooks<()> for Notify {
        async fn on_disconnect(&self, socket: &SocketRef, _: DisconnectReason) {
            let _ = self.0.send(socket.id.to_string());
        }
    }
    let app = App::builder(())
        .on_connect(common::token_auth())
        .on("id", async |socket: SocketRef, ack: AckSender| {
            let _ = ack.send(&socket.id.to_string());
        })
        .hooks(Notify(tx))
        .build()
        .await
        .unwrap();
    let io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": "user:9" }))
        .header("User-Agent", "iostack-test/1")
        .connect()
        .await
        .unwrap();
    let id = client.emit_with_ack("id", json!(null)).await.unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();

    let entry = io
        .registry()
        .get("/", &id)
        .expect("registered while connected");
    assert_eq!(entry.identity.as_ref().map(|i| i.id.as_str()), Some("9"));
    assert_eq!(entry.user_agent.as_deref(), Some("iostack-test/1"));
    assert_eq!(
        entry.peer.map(|p| p.ip().to_string()),
        Some("127.0.0.1".into())
    );

    client.disconnect().await.unwrap();
    let gone = tokio::time::timeout(iostack_testing::WAIT, disconnected.recv())
        .await
        .unwrap();
    assert_eq!(gone.as_deref(), Some(id.as_str()));
    // The entry goes last, once the disconnect hooks ran (shutdown waits on it).
    tokio::time::timeout(iostack_testing::WAIT, io.registry().wait_until_empty())
        .await
        .expect("the registry forgets the socket");
    assert!(io.registry().get("/", &id).is_none());
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

struct Named(&'static str, bool);

#[async_trait::async_trait]
impl Hooks<Log> for Named {
    fn name(&self) -> &str {
        self.0
    }
    async fn init(&self, cx: &mut InitContext<Log>) -> Result<(), HookError> {
        cx.state
            .push(format!("{}:{}", self.0, cx.io.adapter_name()));
        if self.1 {
            Err(HookError::new("database unreachable"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_hooks_run_in_order_and_a_failure_names_the_hook() {
    let log = Log::default();
    let app = App::builder(log.clone())
        .hooks(Named("first", false))
        .hooks(Named("second", false))
        .build()
        .await
        .unwrap();
    assert_eq!(log.take(), ["first:memory", "second:memory"]);
    drop(app);

    let err = App::builder(log.clone())
        .hooks(Named("first", false))
        .hooks(Named("broken", true))
        .hooks(Named("never", false))
        .build()
        .await
        .err()
        .expect("init failure aborts build");
    assert_eq!(log.take(), ["first:memory", "broken:memory"]);
    assert!(matches!(&err, BuildError::Init { hook, .. } if hook == "broken"));
    assert_eq!(
        err.to_string(),
        "init hook `broken` failed: database unreachable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_event_registration_fails_the_build() {
    let err = App::builder(())
        .on("a", async || ())
        .on("a", async || ())
        .build()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "invalid app configuration: in namespace `/`: event `a` is registered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_namespace_runs_its_own_stacks() {
    let app = App::builder(())
        .on("where", async |ack: AckSender| {
            let _ = ack.send(&"root");
        })
        .namespace("/admin", |ns| {
            ns.on_connect(common::token_auth()).on(
                "where",
                async |user: Identity, ack: AckSender| {
                    let _ = ack.send(&format!("admin:{}", user.id));
                },
            )
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();

    let root = TestClient::connect(&server.url()).await.unwrap();
    assert_eq!(
        root.emit_with_ack("where", json!(null)).await.unwrap(),
        json!(["root"])
    );

    let refused = TestClient::builder(server.url())
        .namespace("/admin")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(m) if m == "Authentication required"),
        "{refused}"
    );

    let admin = TestClient::builder(server.url())
        .namespace("/admin")
        .auth(json!({ "token": "user:1" }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        admin.emit_with_ack("where", json!(null)).await.unwrap(),
        json!(["admin:1"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_socket_are_answered_in_arrival_order() {
    let app = App::builder(())
        .on("seq", async |socket: SocketRef, Data(n): Data<u32>| {
            // Later events finish faster: only ordering by the framework keeps replies in order.
            tokio::time::sleep(std::time::Duration::from_micros(
                u64::from(100 - n.min(100)) * 20,
            ))
            .await;
            let _ = socket.emit("seq", &n);
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    for n in 0..100u32 {
        client.emit("seq", n).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..100 {
        got.push(client.wait_for("seq").await.unwrap()[0].as_u64().unwrap());
    }
    assert_eq!(got, (0..100).collect::<Vec<u64>>());
}

/// A handler held at a gate the test opens, and told when it starts.
#[derive(Clone)]
struct Gate {
    open: Arc<tokio::sync::Semaphore>,
    started: tokio::sync::mpsc::UnboundedSender<u32>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_event_queue_is_refused_and_the_socket_recovers() {
    let (started, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let gate = Gate {
        open: Arc::new(tokio::sync::Semaphore::new(0)),
        started,
    };
    let app = App::builder(gate.clone())
        .event_queue_capacity(4)
        .on(
            "work",
            async |socket: SocketRef,
                   iostack::State(gate): iostack::State<Gate>,
                   Data(n): Data<u32>| {
                let _ = gate.started.send(n);
                gate.open.acquire().await.unwrap().forget();
                let _ = socket.emit("done", &n);
            },
        )
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();

    client.emit("work", 0).await.unwrap();
    let first = tokio::time::timeout(iostack_testing::WAIT, started_rx.recv()).await;
    assert_eq!(first.unwrap(), Some(0), "the first event is being handled");
    for n in 1..10u32 {
        client.emit("work", n).await.unwrap();
    }
    // 1 in progress + 4 queued; the other 5 are refused, each with an `error` event.
    for _ in 0..5 {
        assert_eq!(
            client.wait_for("error").await.unwrap(),
            [json!({ "message": "Too many pending events" })]
        );
    }
    gate.open.add_permits(100);
    let mut done = Vec::new();
    for _ in 0..5 {
        done.push(client.wait_for("done").await.unwrap()[0].as_u64().unwrap());
    }
    assert_eq!(
        done,
        [0, 1, 2, 3, 4],
        "the accepted events are all handled, in order"
    );
    client.emit("work", 10).await.unwrap();
    assert_eq!(
        client.wait_for("done").await.unwrap(),
        [json!(10)],
        "and the socket goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_socket_tells_the_client_why_first() {
    let app = App::builder(())
        .on("id", async |socket: SocketRef, ack: AckSender| {
            let _ = ack.send(&socket.id.to_string());
        })
        .build()
        .await
        .unwrap();
    let io: Io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    let id = client.emit_with_ack("id", json!(null)).await.unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();

    assert!(io.disconnect_socket(&id, "maintenance").await.unwrap());
    assert_eq!(
        client.wait_for("server:disconnect").await.unwrap(),
        vec![json!({ "reason": "maintenance" })]
    );
    client.wait_for("disconnect").await.unwrap();
    assert!(!io.disconnect_socket(&id, "again").await.unwrap());
    assert_eq!(
        io.disconnect_socket("not a sid", "x")
            .await
            .unwrap_err()
            .to_string(),
        "invalid socket id `not a sid`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_handle_emits_and_names_the_adapter() {
    let app = echo_app().await;
    let io = app.io().clone();
    assert_eq!(io.adapter_name(), "memory");
    let server = TestServer::start(app).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    client.emit_with_ack("echo", 1).await.unwrap();
    assert_eq!(io.sockets().len(), 1);
    io.emit("news", &json!({ "n": 1 })).await.unwrap();
    assert_eq!(
        client.wait_for("news").await.unwrap(),
        vec![json!({ "n": 1 })]
    );
}
