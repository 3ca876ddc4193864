//! A client that stops reading: its buffer fills, further messages are refused, and every refusal is
//! counted and reported instead of being lost silently.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use iostack::{
    App, BroadcastError,
    extract::{AckSender, SocketRef},
    socketioxide::{AckError, SocketError},
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_refused_by_a_full_buffer_are_counted_and_reported() {
    let app = App::builder(())
        .max_buffer_size(8)
        .on(
            "flood",
            async |socket: SocketRef, ack: AckSender| -> Result<(), BroadcastError> {
                let big = "x".repeat(10_000);
                for _ in 0..5_000 {
                    socket.broadcast().emit("big", &big).await?;
                }
                let _ = ack.send(&"all delivered");
                Ok(())
            },
        )
        .build()
        .await
        .unwrap();
    let monitor = app.monitor();
    let (reply, deliveries, _server) =
        common::ask_past_a_stalled_client(app, "flood", json!(null)).await;
    assert_eq!(
        reply,
        json!([{ "error": { "message": "Not delivered to 1 recipients" } }])
    );
    // Counted for this app, in the namespace of the handler that reported it.
    assert_eq!(deliveries.dropped(), 1, "the one refusal was counted once");
    assert_eq!(
        deliveries.dropped_by_namespace(),
        [("/".to_owned(), deliveries.dropped())]
    );
    let metrics = monitor.prometheus().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("iostack_dropped_messages_total{namespace=\"/\"} "))
        .unwrap_or_else(|| panic!("no dropped-message sample for `/` in\n{metrics}"));
    assert_eq!(
        line.rsplit(' ').next().unwrap().parse::<u64>().unwrap(),
        deliveries.dropped(),
        "{line}"
    );
}

/// A handler that ignores every emit's result, as most code does: the refusals are counted all the
/// same, one per refused message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_when_the_handler_ignores_them() {
    let app = App::builder(())
        .max_buffer_size(8)
        .on("flood", async |socket: SocketRef, ack: AckSender| {
            let big = "x".repeat(10_000);
            let mut refused = 0u64;
            for _ in 0..5_000 {
                // Ignored, as in most handlers; counted here only to check the app's count.
                if socket.broadcast().emit("big", &big).await.is_err() {
                    refused += 1;
                }
            }
            let _ = ack.send(&refused);
        })
        .build()
        .await
        .unwrap();
    let (reply, deliveries, _server) =
        common::ask_past_a_stalled_client(app, "flood", json!(null)).await;
    let refused = reply[0].as_u64().expect("a count");
    assert!(refused > 0, "the stalled client's buffer filled");
    assert_eq!(deliveries.dropped(), refused, "each refusal counted once");
    assert_eq!(
        deliveries.dropped_by_namespace(),
        [("/".to_owned(), refused)]
    );
}

/// An acknowledged broadcast learns which sockets refused it from its acknowledgements: the
/// refusals read there are counted too. On one thread the queue filled by the plain broadcasts is
/// still full when the acknowledged one comes.
#[tokio::test]
async fn refusals_of_acknowledged_broadcasts_are_counted() {
    let app = App::builder(())
        .max_buffer_size(8)
        .on("flood", async |socket: SocketRef, ack: AckSender| {
            while socket.broadcast().emit("fill", &0).await.is_ok() {}
            let acks = socket
                .broadcast()
                .timeout(Duration::from_secs(5))
                .emit_with_ack::<_, Value>("ask", &0)
                .await
                .expect("an acknowledgement stream");
            let refused: Vec<bool> = acks
                .map(|(_, result)| {
                    matches!(
                        result,
                        Err(AckError::Socket(SocketError::InternalChannelFull))
                    )
                })
                .collect()
                .await;
            let _ = ack.send(&refused);
        })
        .build()
        .await
        .unwrap();
    let (reply, deliveries, _server) =
        common::ask_past_a_stalled_client(app, "flood", json!(null)).await;
    assert_eq!(
        reply,
        json!([[true]]),
        "the stalled client refused the question"
    );
    assert_eq!(
        deliveries.dropped(),
        2,
        "the plain broadcast's refusal and the acknowledged one's"
    );
}
