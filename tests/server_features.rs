//! Rooms from identity, cluster helpers on `Io`, graceful shutdown: real servers, real clients.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use futures_util::future::join_all;
use iostack::{
    App, Hooks, Io, ShutdownOptions,
    extract::{DisconnectReason, SocketRef},
    rooms::{AutoJoinLayer, RoomRules, get_rooms},
};
use iostack_testing::{Received, TestClient, TestServer};
use serde_json::{Value, json};
use tower::ServiceBuilder;

fn rules() -> RoomRules {
    RoomRules::new()
        .when_claim("premium", "premium")
        .claim_value("country", "country")
}

async fn rooms_app() -> App<()> {
    let connect = ServiceBuilder::new()
        .layer(common::token_auth())
        .layer(AutoJoinLayer::new(rules()));
    App::builder(())
        .on_connect(connect.clone())
        .on("get-rooms", get_rooms)
        .namespace("/chat", |ns| ns)
        // Outside the app stack and without auto-join rooms: the helpers still reach it.
        .public_namespace("/admin", |ns| ns.on_connect(common::token_auth()))
        .build()
        .await
        .unwrap()
}

async fn client(server: &TestServer, ns: &str, token: &str) -> TestClient {
    TestClient::builder(server.url())
        .namespace(ns)
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap()
}

/// Events until (and including) the next `disconnect`, in arrival order.
async fn events_until_disconnect(client: &mut TestClient) -> Vec<Received> {
    client
        .events_until("disconnect")
        .await
        .expect("event before timeout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_join_rooms_from_their_identity_and_can_list_them() {
    let server = TestServer::start(rooms_app().await).await.unwrap();
    let admin = client(&server, "/", "user:5:admin").await;
    let rooms = admin.emit_with_ack("get-rooms", json!(null)).await.unwrap();
    assert_eq!(rooms, json!([["role-admin", "user-5"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_user_tells_then_disconnects_every_socket_of_that_user_only() {
    let app = rooms_app().await;
    let io: Io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let mut root = client(&server, "/", "user:1").await;
    let mut chat = client(&server, "/chat", "user:1").await;
    let mut admin = client(&server, "/admin", "user:1").await;
    let other = client(&server, "/", "user:2").await;
    // Make sure the sessions are fully set up before kicking.
    root.emit_with_ack("get-rooms", json!(null)).await.unwrap();
    other.emit_with_ack("get-rooms", json!(null)).await.unwrap();

    assert!(io.kick_user("1", "spamming").await.unwrap());
    for kicked in [&mut root, &mut chat, &mut admin] {
        let events = events_until_disconnect(kicked).await;
        let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["kicked", "disconnect"]);
        assert_eq!(events[0].args, vec![json!({ "reason": "spamming" })]);
    }
    // user 2 is still connected and served.
    assert_eq!(
        other.emit_with_ack("get-rooms", json!(null)).await.unwrap(),
        json!([["user-2"]])
    );
    assert!(!io.kick_user("nobody", "x").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_to_role_reaches_that_role_in_every_namespace() {
    let app = rooms_app().await;
    let io: Io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let mut admin_root = client(&server, "/", "user:1:admin").await;
    let mut admin_chat = client(&server, "/chat", "user:1:admin").await;
    let mut admin_admin = client(&server, "/admin", "user:1:admin").await;
    let mut editor = client(&server, "/", "user:2:editor").await;
    editor
        .emit_with_ack("get-rooms", json!(null))
        .await
        .unwrap();

    io.broadcast_to_role("admin", "notice", &json!({ "text": "deploy at 5" }))
        .await
        .unwrap();
    assert_eq!(
        admin_root.wait_for("notice").await.unwrap(),
        vec![json!({ "text": "deploy at 5" })]
    );
    for admin in [&mut admin_chat, &mut admin_admin] {
        assert_eq!(
            admin.wait_for("notice").await.unwrap(),
            vec![json!({ "text": "deploy at 5" })]
        );
    }
    io.broadcast_to_role("editor", "notice", &json!({ "text": "for editors" }))
        .await
        .unwrap();
    // The editor's first notice is the editors' one: the admins' never reached it.
    assert_eq!(
        editor.wait_for("notice").await.unwrap(),
        vec![json!({ "text": "for editors" })]
    );
}

struct Counting {
    shutdowns: Arc<AtomicUsize>,
    disconnects: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Hooks<()> for Counting {
    async fn on_disconnect(&self, _: &SocketRef, _: DisconnectReason) {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }
    async fn on_shutdown(&self, io: &Io) {
        // Hooks run before the sockets are closed: they can still reach every client.
        let _ = io.emit("bye", &json!(io.connections().len())).await;
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_notice_reaches_all_200_clients_before_they_are_disconnected() {
    const CLIENTS: usize = 200;
    let shutdowns = Arc::new(AtomicUsize::new(0));
    let disconnects = Arc::new(AtomicUsize::new(0));
    let app = App::builder(())
        .on("ping", async |ack: iostack::extract::AckSender| {
            let _ = ack.send(&"pong");
        })
        .shutdown(
            ShutdownOptions::new()
                .message("Deploying")
                .reconnect_in(std::time::Duration::from_secs(3))
                .drain(std::time::Duration::from_millis(200)),
        )
        .hooks(Counting {
            shutdowns: shutdowns.clone(),
            disconnects: disconnects.clone(),
        })
        .build()
        .await
        .unwrap();
    let io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let url = server.url();
    let mut clients = Vec::new();
    for chunk in 0..CLIENTS / 20 {
        let batch = join_all((0..20).map(|_| TestClient::connect(&url))).await;
        clients.extend(
            batch
                .into_iter()
                .map(|c| c.unwrap_or_else(|e| panic!("client of batch {chunk}: {e}"))),
        );
    }
    // Every session is set up once each client had an answer.
    for client in &clients {
        client.emit_with_ack("ping", json!(null)).await.unwrap();
    }
    assert_eq!(io.connections().len(), CLIENTS);

    server.stop().await.unwrap();

    let sequences = join_all(clients.iter_mut().map(events_until_disconnect)).await;
    for events in &sequences {
        let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["server:shutdown", "bye", "disconnect"]);
        assert_eq!(
            events[0].args,
            vec![json!({ "message": "Deploying", "reconnectIn": 3000 })]
        );
        assert_eq!(events[1].args, vec![Value::from(CLIENTS)]);
    }
    assert_eq!(shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(
        disconnects.load(Ordering::SeqCst),
        CLIENTS,
        "disconnect bookkeeping ran for every socket"
    );
    assert!(io.connections().is_empty());
}
