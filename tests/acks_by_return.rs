//! Acks by return: a handler's value answers the client's ack, its error reaches the client as an
//! error ack or an `error` event, and a handler holding the `AckSender` answers by itself.

use iostack::{
    App, Reply,
    extract::{AckSender, Data},
};
use iostack_testing::{TestClient, TestServer};
use serde_json::{Value, json};

async fn server() -> TestServer {
    let app = App::builder(())
        .on("add", async |Data((a, b)): Data<(i64, i64)>| Reply(a + b))
        .on("divide", async |Data((a, b)): Data<(i64, i64)>| {
            a.checked_div(b)
                .map(|q| json!({ "quotient": q }))
                .ok_or("Division by zero")
        })
        .on("save", async |Data(_): Data<Value>| Ok::<(), String>(()))
        .on("manual", async |ack: AckSender| {
            let _ = ack.send(&"by hand");
            Reply("never sent")
        })
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_values_answer_the_ack() {
    let server = server().await;
    let client = TestClient::connect(&server.url()).await.unwrap();
    let args = |a: i64, b: i64| vec![json!(a), json!(b)];
    assert_eq!(
        client.emit_args_with_ack("add", args(2, 3)).await.unwrap(),
        json!([5])
    );
    assert_eq!(
        client
            .emit_args_with_ack("divide", args(7, 2))
            .await
            .unwrap(),
        json!([{ "quotient": 3 }])
    );
    assert_eq!(
        client.emit_with_ack("save", json!({})).await.unwrap(),
        json!([null])
    );
    assert_eq!(
        client.emit_with_ack("manual", json!(null)).await.unwrap(),
        json!(["by hand"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_errors_reach_the_client_as_error_ack_or_error_event() {
    let server = server().await;
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    let zero = vec![json!(1), json!(0)];
    assert_eq!(
        client
            .emit_args_with_ack("divide", zero.clone())
            .await
            .unwrap(),
        json!([{ "error": { "message": "Division by zero" } }])
    );
    client.emit_args("divide", zero).await.unwrap();
    assert_eq!(
        client.wait_for("error").await.unwrap(),
        vec![json!({ "message": "Division by zero" })]
    );
}
