//! tower-http layers around the whole HTTP service: request tracing and response compression
//! apply to the polling transport, and clients keep working through them.

use iostack::{
    App,
    extract::{AckSender, Data},
};
use iostack_testing::{TestClient, TestServer, Transport};
use serde_json::json;
use std::io::Read;
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_and_compression_wrap_the_polling_transport() {
    let app = App::builder(())
        .on(
            "echo",
            async |Data(v): Data<serde_json::Value>, ack: AckSender| {
                let _ = ack.send(&v);
            },
        )
        .build()
        .await
        .unwrap()
        .http_layer(CompressionLayer::new())
        .http_layer(TraceLayer::new_for_http());
    let server = TestServer::start(app).await.unwrap();

    // A polling handshake asked with gzip comes back compressed, and decompresses to the open packet.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/socket.io/?EIO=4&transport=polling",
            server.url()
        ))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let body = response.bytes().await.unwrap();
    let mut open = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut open)
        .unwrap();
    assert!(open.starts_with("0{\"sid\":"), "{open}");

    // Clients on both transports are served through the layers.
    for transport in [Transport::Polling, Transport::Websocket] {
        let client = TestClient::builder(server.url())
            .transport(transport)
            .connect()
            .await
            .unwrap();
        assert_eq!(
            client
                .emit_with_ack("echo", json!({ "n": 1 }))
                .await
                .unwrap(),
            json!([{ "n": 1 }])
        );
    }
}
