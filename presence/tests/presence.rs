//! Presence against real clients over 127.0.0.1, on the memory adapter.

mod support;

use std::time::Duration;

use iostack_core::App;
use iostack_middleware::auth::AuthLayer;
use iostack_presence::Presence;
use iostack_testing::TestServer;
use serde_json::json;
use support::{Tokens, client};

async fn server(presence: Presence) -> TestServer {
    let app = App::builder(())
        .on_connect(AuthLayer::new(Tokens))
        .hooks(presence)
        .build()
        .await
        .expect("app builds");
    TestServer::start(app).await.expect("server starts")
}

#[tokio::test]
async fn several_tabs_count_once_and_the_user_goes_offline_after_the_last() {
    let presence = Presence::new();
    let server = server(presence.clone()).await;
    let url = server.url();
    let mut watcher = client(&url, "w:Watcher").await;
    let list = watcher
        .emit_with_ack("presence:subscribe", json!({}))
        .await
        .unwrap();
    assert_eq!(list, json!([[{ "userId": "w", "username": "Watcher" }]]));

    let tab1 = client(&url, "1:Ada").await;
    let online = watcher.wait_for("presence:online").await.unwrap();
    assert_eq!(online, vec![json!({ "userId": "1", "username": "Ada" })]);
    let tab2 = client(&url, "1:Ada").await;
    let listed = tab2
        .emit_with_ack("presence:list", json!(null))
        .await
        .unwrap();
    assert_eq!(listed[0].as_array().unwrap().len(), 2, "{listed:?}");
    watcher
        .expect_none("presence:online", Duration::from_millis(300))
        .await
        .expect("a second tab is not announced");

    tab1.disconnect().await.unwrap();
    watcher
        .expect_none("presence:offline", Duration::from_millis(300))
        .await
        .expect("one tab left: still online");
    tab2.disconnect().await.unwrap();
    let offline = watcher.wait_for("presence:offline").await.unwrap();
    assert_eq!(offline, vec![json!({ "userId": "1" })]);
    assert_eq!(
        presence.online().await.unwrap(),
        vec![iostack_presence::OnlineUser {
            user_id: "w".into(),
            username: Some("Watcher".into())
        }]
    );
}

#[tokio::test]
async fn room_scopes_hear_only_their_members() {
    let server = server(Presence::new()).await;
    let url = server.url();
    let mut editors = client(&url, "w:Watcher").await;
    editors
        .emit_with_ack("presence:subscribe", json!({ "room": "role-editor" }))
        .await
        .unwrap();
    let _reader = client(&url, "2:Bob:reader").await;
    let _editor = client(&url, "3:Eve:editor").await;
    let online = editors.wait_for("presence:online").await.unwrap();
    assert_eq!(online, vec![json!({ "userId": "3", "username": "Eve" })]);
}

#[tokio::test]
async fn views_are_shared_and_expire_after_the_idle_time() {
    let server = server(Presence::new().idle_after(Duration::from_secs(2))).await;
    let url = server.url();
    let mut ada = client(&url, "1:Ada").await;
    let bob = client(&url, "2:Bob").await;
    let ack = ada
        .emit_with_ack("presence:view", json!({ "entry": "article:7" }))
        .await
        .unwrap();
    assert_eq!(ack, json!([{ "entry": "article:7", "users": ["1"] }]));
    assert_eq!(
        ada.wait_for("presence:viewing").await.unwrap(),
        vec![json!({ "entry": "article:7", "users": ["1"] })]
    );
    bob.emit_with_ack("presence:view", json!({ "entry": "article:7" }))
        .await
        .unwrap();
    assert_eq!(
        ada.wait_for("presence:viewing").await.unwrap(),
        vec![json!({ "entry": "article:7", "users": ["1", "2"] })]
    );
    bob.emit_with_ack("presence:leave", json!({ "entry": "article:7" }))
        .await
        .unwrap();
    assert_eq!(
        ada.wait_for("presence:viewing").await.unwrap(),
        vec![json!({ "entry": "article:7", "users": ["1"] })]
    );
    // Ada goes idle: her view expires 2 s after her `presence:view` (the client waits 5 s).
    assert_eq!(
        ada.wait_for("presence:viewing").await.unwrap(),
        vec![json!({ "entry": "article:7", "users": [] })]
    );
}

#[tokio::test]
async fn a_view_without_an_entry_is_answered_with_an_error() {
    let server = server(Presence::new()).await;
    let ada = client(&server.url(), "1:Ada").await;
    let ack = ada
        .emit_with_ack("presence:view", json!({ "nope": 1 }))
        .await
        .unwrap();
    assert_eq!(
        ack,
        json!([{ "error": { "message": "expected {entry: string}" } }])
    );
}
