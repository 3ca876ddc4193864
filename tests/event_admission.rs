//! What an event must pass before it is queued: the app's gates (even while the socket's handlers
//! are busy), and the socket's queue budget in bytes.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use iostack::{
    App, BoxError, EventGate, EventRequest, Reply,
    extract::{Data, State},
};
use iostack_testing::{TestClient, TestServer};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Refuses events named `blocked`.
struct NoBlocked;

impl EventGate for NoBlocked {
    fn check(&self, req: &EventRequest) -> Result<(), BoxError> {
        match req.event() {
            "blocked" => Err("Blocked at the gate".into()),
            _ => Ok(()),
        }
    }
}

#[derive(Clone)]
struct Held {
    /// `hold` waits for a permit: until then the socket's worker is busy.
    release: Arc<Semaphore>,
    handled: Arc<AtomicUsize>,
}

async fn server(queue_bytes: usize) -> (TestServer, Held) {
    server_with(queue_bytes, NoBlocked).await
}

/// An app whose `hold` event keeps the socket's worker busy until released, with `gate`.
async fn server_with(queue_bytes: usize, gate: impl EventGate) -> (TestServer, Held) {
    let held = Held {
        release: Arc::new(Semaphore::new(0)),
        handled: Arc::new(AtomicUsize::new(0)),
    };
    let app = App::builder(held.clone())
        .gate(gate)
        .event_queue_bytes(queue_bytes)
        .on("hold", async |State(held): State<Held>| {
            let _permit = held.release.acquire().await;
        })
        .on(
            "big",
            async |State(held): State<Held>, Data(_): Data<Value>| {
                held.handled.fetch_add(1, Ordering::SeqCst);
            },
        )
        .on("count", async |State(held): State<Held>| {
            Reply(held.handled.load(Ordering::SeqCst))
        })
        .build()
        .await
        .unwrap();
    (TestServer::start(app).await.unwrap(), held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_refuse_events_while_the_handlers_are_busy() {
    let (server, held) = server(1 << 20).await;
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    client.emit("hold", json!(null)).await.unwrap();
    // The worker is held: only a check before the queue can answer now.
    client.emit("blocked", json!(null)).await.unwrap();
    assert_eq!(
        client.wait_for("error").await.unwrap(),
        vec![json!({ "message": "Blocked at the gate" })]
    );
    held.release.add_permits(1);
    assert_eq!(
        client.emit_with_ack("count", json!(null)).await.unwrap(),
        json!([0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_payload_bytes_are_bounded() {
    let (server, held) = server(10_000).await;
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    client.emit("hold", json!(null)).await.unwrap();
    let payload = "x".repeat(4000);
    for _ in 0..5 {
        client.emit("big", json!(payload)).await.unwrap();
    }
    // Two 4 kB events fit in 10 kB; the other three are refused, not queued.
    for _ in 0..3 {
        assert_eq!(
            client.wait_for("error").await.unwrap(),
            vec![json!({ "message": "Too many pending events" })]
        );
    }
    held.release.add_permits(1);
    assert_eq!(
        client.emit_with_ack("count", json!(null)).await.unwrap(),
        json!([2])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_gate_refuses_a_flood_before_it_is_queued() {
    use iostack::middleware::rate_limit::RateLimitLayer;
    let limit = RateLimitLayer::per_socket(6, std::time::Duration::from_secs(3600));
    let (server, held) = server_with(1 << 20, limit.into_gate()).await;
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    client.emit("hold", json!(null)).await.unwrap();
    for i in 0..50 {
        client.emit("big", json!(i)).await.unwrap();
    }
    // `hold` took one token and the first five `big` events the others: the other 45 are
    // refused at the door while the handler is still busy, so they never take a queue slot.
    for _ in 0..45 {
        assert_eq!(
            client.wait_for("error").await.unwrap(),
            vec![json!({ "message": "Too many requests. Please slow down." })]
        );
    }
    assert_eq!(held.handled.load(Ordering::SeqCst), 0, "handler still held");
    held.release.add_permits(1);
}
