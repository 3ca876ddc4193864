//! One set of handlers and hooks, written once with no adapter in any signature, built on the
//! memory, Redis and MongoDB adapters in turn and exercised by a real client on each.

use std::time::Duration;

use iostack::{
    Adapter, App, BroadcastError, Io, Reply,
    extract::{Data, SocketRef},
    memory::MemoryAdapter,
};
use iostack_mongo::{MongoAdapter, MongoConfig};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{
    TestClient, TestServer,
    services::{MongoServer, RedisServer},
};
use serde_json::{Value, json};

async fn echo(Data(v): Data<Value>) -> Reply<Value> {
    Reply(v)
}

async fn join(socket: SocketRef, Data(room): Data<String>) -> Reply<bool> {
    socket.join(room);
    Reply(true)
}

async fn shout(io: Io, Data(text): Data<String>) -> Result<(), BroadcastError> {
    io.of("/chat")
        .expect("declared")
        .emit("shouted", &text)
        .await
}

struct Greeter;

#[iostack::hooks(state = ())]
impl Greeter {
    #[on_connection(ns = "/chat")]
    async fn greet(&self, socket: SocketRef) {
        let _ = socket.emit("welcome", &socket.ns());
    }
}

/// Builds the app with `adapter` given last: handlers and hooks do not depend on it.
async fn serve(adapter: impl Adapter) -> (TestServer, Io) {
    let app = App::builder(())
        .on("echo", echo)
        .on("join", join)
        .namespace("/chat", |ns| ns.on("shout", shout))
        .hooks(Greeter)
        .adapter(adapter)
        .build()
        .await
        .expect("app builds");
    let io = app.io().clone();
    (TestServer::start(app).await.unwrap(), io)
}

/// Every handler and hook of the set, through one client per namespace.
async fn exercise(server: &TestServer, io: &Io) {
    let mut main = TestClient::connect(&server.url()).await.unwrap();
    let mut chat = TestClient::builder(server.url())
        .namespace("/chat")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        chat.wait_for("welcome").await.unwrap(),
        vec![json!("/chat")]
    );

    let reply = main.emit_with_ack("echo", json!({ "n": 1 })).await.unwrap();
    assert_eq!(reply, json!([{ "n": 1 }]));

    assert_eq!(
        main.emit_with_ack("join", "lobby").await.unwrap(),
        json!([true])
    );
    io.to("lobby").emit("news", &"hi").await.unwrap();
    assert_eq!(main.wait_for("news").await.unwrap(), vec![json!("hi")]);

    chat.emit("shout", "louder").await.unwrap();
    assert_eq!(
        chat.wait_for("shouted").await.unwrap(),
        vec![json!("louder")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_handlers_and_hooks_run_on_memory_redis_and_mongo() {
    let redis = RedisServer::start().await.unwrap();
    let mongo = MongoServer::start().await.unwrap();
    let timeout = Duration::from_secs(10);

    let (server, io) = serve(MemoryAdapter::new()).await;
    assert_eq!(io.adapter_name(), "memory");
    exercise(&server, &io).await;

    let (server, io) = serve(RedisAdapter::new(
        RedisConfig::new(redis.url()).request_timeout(timeout),
    ))
    .await;
    assert_eq!(io.adapter_name(), "redis");
    exercise(&server, &io).await;

    let (server, io) = serve(MongoAdapter::new(
        MongoConfig::new(mongo.url()).request_timeout(timeout),
    ))
    .await;
    assert_eq!(io.adapter_name(), "mongo");
    exercise(&server, &io).await;
}
