//! The periodic `Active connections: N` log, captured from tracing while real clients connect.

use std::time::Duration;

use iostack::App;
use iostack_testing::{TestClient, TestServer, WAIT};
use tokio::sync::mpsc;
use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// Forwards every log message to a channel.
struct Capture(mpsc::UnboundedSender<String>);

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let _ = self.0.send(message.0);
    }
}

async fn next_count(logs: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            let line = logs.recv().await.expect("log channel open");
            if line.starts_with("Active connections:") {
                return line;
            }
        }
    })
    .await
    .expect("an `Active connections` line in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_the_number_of_active_connections_at_each_interval() {
    let (tx, mut logs) = mpsc::unbounded_channel();
    tracing_subscriber::registry().with(Capture(tx)).init();

    let app = App::builder(())
        .on("ping", async |ack: iostack::extract::AckSender| {
            let _ = ack.send(&"pong");
        })
        .log_active_connections(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(next_count(&mut logs).await, "Active connections: 0");

    let client = TestClient::connect(&server.url()).await.unwrap();
    client
        .emit_with_ack("ping", serde_json::json!(null))
        .await
        .unwrap();
    // Lines logged before the connection may still be queued: wait for the first that counts it.
    tokio::time::timeout(WAIT, async {
        while next_count(&mut logs).await != "Active connections: 1" {}
    })
    .await
    .expect("the connection is counted");
}
