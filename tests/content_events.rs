//! Content events reach exactly the clients allowed to read them, without sensitive fields, on
//! one node and across Redis-connected nodes.

mod common;

use iostack::{
    Adapter, App, Io,
    content::{ContentAction, ContentError, ContentEvents, ContentType},
    memory::MemoryAdapter,
    rooms::{AutoJoinLayer, RoomRules, get_rooms},
};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{Received, TestClient, TestServer, services::RedisServer};
use serde_json::{Value, json};
use tower::ServiceBuilder;

const ARTICLE: &str = "api::article.article";
const NOTICE: &str = "api::notice.notice";

fn content() -> ContentEvents {
    ContentEvents::new()
        .register(
            ContentType::new(ARTICLE)
                .readable_by(["editor"])
                .owned_by("/authorId")
                .omit(["internalNotes"]),
        )
        .register(ContentType::new(NOTICE).public())
}

async fn node(adapter: impl Adapter) -> (TestServer, Io) {
    let app = App::builder(())
        .adapter(adapter)
        .on_connect(
            ServiceBuilder::new()
                .layer(common::token_auth())
                .layer(AutoJoinLayer::new(RoomRules::new())),
        )
        .on("get-rooms", get_rooms)
        .build()
        .await
        .unwrap();
    let io = app.io().clone();
    (TestServer::start(app).await.unwrap(), io)
}

/// A client of user `token` whose session (and rooms) is set up.
async fn client(server: &TestServer, token: &str) -> TestClient {
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap();
    client
        .emit_with_ack("get-rooms", json!(null))
        .await
        .unwrap();
    client
}

/// The content events `client` receives up to and including the public notice that closes a
/// round: one client's events arrive in order, so what is missing before it was never sent.
async fn round(client: &mut TestClient) -> Vec<Received> {
    client
        .events_until("notice:create")
        .await
        .expect("event before timeout")
}

fn names(events: &[Received]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

async fn publish(io: &Io, uid: &str, action: ContentAction, entry: Value) {
    content().publish(io, uid, action, &entry).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_readers_and_owners_once_without_sensitive_fields() {
    let (server, io) = node(MemoryAdapter::new()).await;
    let mut editor = client(&server, "user:1:editor").await;
    let mut author = client(&server, "user:42:editor").await; // in role-editor and user-42
    let mut viewer = client(&server, "user:7:viewer").await;

    let article = json!({
        "id": 1, "title": "Hello", "authorId": "42",
        "password": "secret", "internalNotes": "draft", "author": { "resetPasswordToken": "t" }
    });
    publish(&io, ARTICLE, ContentAction::Create, article).await;
    publish(&io, NOTICE, ContentAction::Create, json!({ "id": 1 })).await;

    let seen = round(&mut editor).await;
    assert_eq!(names(&seen), ["article:create", "notice:create"]);
    assert_eq!(
        seen[0].args,
        [json!({ "data": { "id": 1, "title": "Hello", "authorId": "42", "author": {} } })]
    );
    assert_eq!(
        names(&round(&mut author).await),
        ["article:create", "notice:create"],
        "a socket in two target rooms gets the event once"
    );
    assert_eq!(
        names(&round(&mut viewer).await),
        ["notice:create"],
        "no role, not the owner: nothing"
    );

    // The viewer owns this one: it hears about it, as do the editors.
    publish(
        &io,
        ARTICLE,
        ContentAction::Unpublish,
        json!({ "id": 2, "authorId": 7 }),
    )
    .await;
    publish(&io, NOTICE, ContentAction::Create, json!({ "id": 2 })).await;
    for client in [&mut editor, &mut author, &mut viewer] {
        let seen = round(client).await;
        assert_eq!(names(&seen), ["article:unpublish", "notice:create"]);
        assert_eq!(
            seen[0].args,
            [json!({ "data": { "id": 2, "authorId": 7 } })]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_an_unknown_type_or_to_a_missing_namespace_is_an_error() {
    let (_server, io) = node(MemoryAdapter::new()).await;
    let err = content()
        .publish(&io, "api::nope.nope", ContentAction::Delete, &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ContentError::UnknownType(_)));
    assert_eq!(err.to_string(), "unknown content type `api::nope.nope`");

    let err = content()
        .namespace("/missing")
        .publish(&io, NOTICE, ContentAction::Create, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no namespace `/missing` for content events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_node_reach_readers_on_another() {
    let redis = RedisServer::start().await.unwrap();
    let (_a, io_a) = node(RedisAdapter::new(RedisConfig::new(redis.url()))).await;
    let (b, _io_b) = node(RedisAdapter::new(RedisConfig::new(redis.url()))).await;
    let mut editor = client(&b, "user:1:editor").await;
    let mut viewer = client(&b, "user:7:viewer").await;

    publish(
        &io_a,
        ARTICLE,
        ContentAction::Delete,
        json!({ "id": 9, "authorId": "42" }),
    )
    .await;
    publish(&io_a, NOTICE, ContentAction::Create, json!({ "id": 3 })).await;

    let seen = round(&mut editor).await;
    assert_eq!(names(&seen), ["article:delete", "notice:create"]);
    assert_eq!(
        seen[0].args,
        [json!({ "data": { "id": 9, "authorId": "42" } })]
    );
    assert_eq!(names(&round(&mut viewer).await), ["notice:create"]);
}
