//! A panic in user code fails that code's own work only: a panicking handler answers its event with
//! an error, a panicking hook is logged, and the socket's later events and its disconnect
//! bookkeeping still run.

use std::time::Duration;

use iostack::{App, Hooks, Reply, extract::Data, extract::DisconnectReason, extract::SocketRef};
use iostack_testing::{TestClient, TestServer};
use serde_json::json;

struct PanickingHooks;

#[async_trait::async_trait]
impl Hooks<()> for PanickingHooks {
    async fn on_connection(&self, _: &SocketRef) {
        panic!("a connection hook bug");
    }

    async fn on_disconnect(&self, _: &SocketRef, _: DisconnectReason) {
        panic!("a disconnect hook bug");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_fail_their_own_work_and_the_socket_goes_on() {
    let app = App::builder(())
        .hooks(PanickingHooks)
        .on("checked", async |Data(n): Data<i64>| {
            assert!(n != 0, "a handler bug");
            Reply(n)
        })
        .build()
        .await
        .unwrap();
    let io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();

    assert_eq!(
        client.emit_with_ack("checked", json!(0)).await.unwrap(),
        json!([{ "error": { "message": "Internal error" } }])
    );
    // The connection hook and the first event panicked; the next events are answered, in order.
    for n in 1..=3 {
        assert_eq!(
            client.emit_with_ack("checked", json!(n)).await.unwrap(),
            json!([n])
        );
    }

    // The disconnect hook panics too; the socket is still forgotten.
    assert_eq!(io.connections().len(), 1);
    client.disconnect().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), io.registry().wait_until_empty())
        .await
        .expect("the socket forgotten despite its disconnect hook's panic");
}
