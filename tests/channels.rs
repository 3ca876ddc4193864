//! Channels on real databases (an SQLite file, the local PostgreSQL) and with real clients.

mod common;

use std::time::Duration;

use iostack::{App, Identity, extract::AckSender, middleware::logging::ConnectionLogLayer};
use iostack_channels::{
    ChannelError, ChannelStore, Channels, ConnectionLogStore, Database, NewChannel,
};
use iostack_redis::{RedisAdapter, RedisConfig};
use iostack_testing::{TestClient, TestServer, WAIT, services::RedisServer};
use serde_json::json;
use tower::ServiceBuilder;

use common::db::{postgres, postgres_with_url, sqlite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast_naming_the_url_without_password() {
    let port = iostack_testing::services::free_port().unwrap();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app");
    let err = tokio::time::timeout(Duration::from_secs(15), Database::connect(&url))
        .await
        .expect("gives up within its connect timeout")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot reach the database at postgres://app:***@127.0.0.1:{port}/app: "
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(
        Database::connect("mysql://x")
            .await
            .unwrap_err()
            .to_string(),
        "unsupported database URL `mysql://x`: use sqlite://... or postgres://..."
    );
}

async fn seeded(db: Database) -> ChannelStore {
    let store = ChannelStore::new(db);
    let channel = |id: &str, password: Option<&str>, max: i64| NewChannel {
        id: id.into(),
        name: id.to_uppercase(),
        password: password.map(Into::into),
        max_members: max,
    };
    store.create(channel("general", None, 100)).await.unwrap();
    store
        .create(channel("vip", Some("s3cret"), 2))
        .await
        .unwrap();
    store.create(channel("burst", None, 10)).await.unwrap();
    store
}

async fn store_rules(store: ChannelStore) {
    let join = |id: &'static str, pw: Option<&'static str>, sid: &'static str| {
        let store = store.clone();
        async move {
            store
                .join(id, pw, sid, &format!("u-{sid}"), Some("name"))
                .await
        }
    };
    assert_eq!(
        join("nope", None, "s1").await.unwrap_err(),
        ChannelError::NotFound
    );
    assert_eq!(
        join("vip", Some("wrong"), "s1").await.unwrap_err(),
        ChannelError::InvalidPassword
    );
    assert_eq!(
        join("vip", None, "s1").await.unwrap_err(),
        ChannelError::InvalidPassword
    );
    assert_eq!(join("vip", Some("s3cret"), "s1").await.unwrap().len(), 1);
    assert_eq!(
        join("vip", Some("s3cret"), "s1").await.unwrap().len(),
        1,
        "joining twice is a no-op"
    );
    assert_eq!(join("vip", Some("s3cret"), "s2").await.unwrap().len(), 2);
    assert_eq!(
        join("vip", Some("s3cret"), "s3").await.unwrap_err(),
        ChannelError::Full
    );
    assert!(store.leave("vip", "s2").await.unwrap());
    assert_eq!(
        join("vip", Some("s3cret"), "s3").await.unwrap().len(),
        2,
        "a leave frees a seat"
    );
    assert_eq!(join("general", None, "s3").await.unwrap().len(), 1);
    let mut left = store.leave_all("s3").await.unwrap();
    left.sort();
    assert_eq!(left, ["general", "vip"]);
    assert_eq!(store.member_count("vip").await.unwrap(), 1);
    let hash = store.password_hash("vip").await.unwrap().unwrap();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("s3cret"),
        "{hash}"
    );
}

async fn burst_never_exceeds_the_limit(store: ChannelStore) {
    let joins = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .join("burst", None, &format!("b{i}"), &format!("u{i}"), None)
                .await
        })
    });
    let results = futures_util::future::join_all(joins).await;
    let admitted = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(ChannelError::Full))))
        .count();
    assert_eq!((admitted, full), (10, 40), "{results:?}");
    assert_eq!(store.member_count("burst").await.unwrap(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_rules_hold_on_sqlite() {
    store_rules(seeded(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_rules_hold_on_postgres() {
    store_rules(seeded(postgres().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_never_exceed_the_limit_on_sqlite() {
    burst_never_exceeds_the_limit(seeded(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_never_exceed_the_limit_on_postgres() {
    burst_never_exceeds_the_limit(seeded(postgres().await).await).await;
}

/// Wrong-password joins in flight while healthy requests run: the healthy ones complete, correctly,
/// while the storm is still hashing. The storm is twice the pool (8 connections): were hashing done
/// while holding a connection (or, on PostgreSQL, the channel's row lock), the healthy requests
/// would wait for the pool behind it and fail at its 5 s acquire timeout.
async fn wrong_password_storm_leaves_others_served(store: ChannelStore) {
    const STORM: usize = 16;
    let store = store.hashing_limit(2);
    let storm: Vec<_> = (0..STORM)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .join("vip", Some("wrong"), &format!("w{i}"), "attacker", None)
                    .await
            })
        })
        .collect();
    // Healthy requests on the same store. The bound is generous for a loaded machine: a pool held by
    // the storm fails them sooner, at its 5 s acquire timeout (`PoolTimedOut`).
    let healthy = tokio::time::timeout(Duration::from_secs(20), async {
        let members = store
            .join("general", None, "healthy", "u-healthy", Some("h"))
            .await
            .unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(store.member_count("general").await.unwrap(), 1);
        assert_eq!(store.get("vip").await.unwrap().unwrap().max_members, 2);
        assert!(store.leave("general", "healthy").await.unwrap());
    });
    healthy
        .await
        .expect("healthy requests answered during the storm");
    let pending = storm.iter().filter(|t| !t.is_finished()).count();
    println!(
        "wrong-password joins still hashing when the healthy requests completed: {pending}/{STORM}"
    );

    for result in futures_util::future::join_all(storm).await {
        assert_eq!(result.unwrap().unwrap_err(), ChannelError::InvalidPassword);
    }
    assert_eq!(store.member_count("vip").await.unwrap(), 0);
    assert_eq!(
        store
            .join("vip", Some("s3cret"), "after", "u-after", None)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_storm_leaves_others_served_on_sqlite() {
    wrong_password_storm_leaves_others_served(seeded(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_storm_leaves_others_served_on_postgres() {
    wrong_password_storm_leaves_others_served(seeded(postgres().await).await).await;
}

/// Fills `vip` (2 seats) from node `node`.
async fn fill_vip(store: &ChannelStore) {
    for sid in ["a1", "a2"] {
        store
            .join("vip", Some("s3cret"), sid, "u", None)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .join("vip", Some("s3cret"), "a3", "u", None)
            .await
            .unwrap_err(),
        ChannelError::Full
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_of_a_crashed_node_are_freed_at_startup_on_sqlite() {
    let db = sqlite().await;
    let crashed = seeded(db.clone()).await.node_id("crashed-node");
    fill_vip(&crashed).await;
    drop(crashed); // killed: nothing released

    // The next run on this database (an SQLite file belongs to one node) frees them at startup.
    let restarted = ChannelStore::new(db);
    assert_eq!(restarted.recover().await.unwrap(), 2);
    println!(
        "seats freed at startup: 2; vip members now {}",
        restarted.member_count("vip").await.unwrap()
    );
    assert_eq!(restarted.member_count("vip").await.unwrap(), 0);
    assert_eq!(
        restarted
            .join("vip", Some("s3cret"), "b1", "u", None)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_of_a_silent_node_are_freed_and_a_live_nodes_kept_on_postgres() {
    let (db, url) = postgres_with_url().await;
    let live = seeded(db.clone()).await.node_id("live-node");
    fill_vip(&live).await;
    let other = ChannelStore::new(db.clone()).node_id("other-node");
    assert_eq!(
        other.recover().await.unwrap(),
        0,
        "a live node keeps its seats"
    );
    assert_eq!(other.member_count("vip").await.unwrap(), 2);

    // The node stops beating (killed long ago, as far as its heartbeat tells).
    let direct = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE channel_nodes SET seen_at = 0 WHERE node_id = 'live-node'")
        .execute(&direct)
        .await
        .unwrap();
    drop(live);
    let restarted = ChannelStore::new(db);
    assert_eq!(restarted.recover().await.unwrap(), 2);
    assert_eq!(
        restarted
            .join("vip", Some("s3cret"), "b1", "u", None)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `other_node`: a second node shares the database (PostgreSQL; an SQLite file has one node).
async fn release_node_frees_every_seat_of_the_node(db: Database, other_node: bool) {
    let store = seeded(db.clone()).await.node_id("leaving-node");
    fill_vip(&store).await;
    store.join("general", None, "a1", "u", None).await.unwrap();
    if other_node {
        let other = ChannelStore::new(db).node_id("staying-node");
        other.join("general", None, "b1", "u", None).await.unwrap();
    }

    assert_eq!(store.release_node().await.unwrap(), 3);
    assert_eq!(store.member_count("vip").await.unwrap(), 0);
    assert_eq!(
        store.member_count("general").await.unwrap(),
        i64::from(other_node),
        "other nodes keep theirs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_node_frees_every_seat_of_the_node_on_sqlite() {
    release_node_frees_every_seat_of_the_node(sqlite().await, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_node_frees_every_seat_of_the_node_on_postgres() {
    release_node_frees_every_seat_of_the_node(postgres().await, true).await;
}

async fn app<AD: iostack::Adapter>(
    store: ChannelStore,
    log: ConnectionLogStore,
    adapter: AD,
) -> TestServer {
    let app = App::builder(())
        .adapter(adapter)
        .on_connect(
            ServiceBuilder::new()
                .layer(ConnectionLogLayer::new().sink(log))
                .layer(common::token_auth()),
        )
        .on("me", async |user: Identity, ack: AckSender| {
            let _ = ack.send(&user.id);
        })
        .hooks(Channels::new(store, "/"))
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

async fn user(server: &TestServer, id: u32) -> TestClient {
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": format!("user:{id}") }))
        .connect()
        .await
        .unwrap();
    client.emit_with_ack("me", json!(null)).await.unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_join_channels_with_exact_errors_and_notifications() {
    let db = sqlite().await;
    let store = seeded(db.clone()).await;
    let log = ConnectionLogStore::new(db);
    let server = app(
        store.clone(),
        log.clone(),
        iostack::memory::MemoryAdapter::new(),
    )
    .await;
    let mut alice = user(&server, 1).await;
    let mut bob = user(&server, 2).await;
    let carol = user(&server, 3).await;

    let error = |message: &str| json!([{ "error": { "message": message } }]);
    let join = |channel: &str, password: Option<&str>| json!({ "channelId": channel, "password": password });
    assert_eq!(
        alice
            .emit_with_ack("join-channel", join("nope", None))
            .await
            .unwrap(),
        error("Channel not found")
    );
    assert_eq!(
        alice
            .emit_with_ack("join-channel", join("vip", Some("x")))
            .await
            .unwrap(),
        error("Invalid password")
    );
    alice
        .emit("join-channel", join("vip", Some("x")))
        .await
        .unwrap();
    assert_eq!(
        alice.wait_for("error").await.unwrap()[0]["message"],
        "Invalid password"
    );

    let ok = alice
        .emit_with_ack("join-channel", join("vip", Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(ok[0]["ok"], true);
    assert_eq!(
        alice.wait_for("channel:joined").await.unwrap()[0],
        json!({ "channelId": "vip", "members": 1 })
    );
    bob.emit_with_ack("join-channel", join("vip", Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(
        alice.wait_for("user:joined").await.unwrap(),
        vec![json!({ "userId": "2", "username": "u2" })]
    );
    assert_eq!(
        bob.wait_for("channel:joined").await.unwrap()[0]["members"],
        2
    );
    assert_eq!(
        carol
            .emit_with_ack("join-channel", join("vip", Some("s3cret")))
            .await
            .unwrap(),
        error("Channel is full")
    );

    // Bob leaves by disconnecting: his seat is freed and alice is told.
    bob.disconnect().await.unwrap();
    assert_eq!(
        alice.wait_for("user:left").await.unwrap(),
        vec![json!({ "userId": "2", "username": "u2" })]
    );
    let ok = carol
        .emit_with_ack("join-channel", join("vip", Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(ok[0]["ok"], true, "{ok}");

    // The connection log has bob's session, ended.
    tokio::time::timeout(WAIT, async {
        while log.sessions_of("2").await.unwrap() != (1, 1) {
            tokio::time::sleep(Duration::from_millis(20)).await; // the writes run in their own tasks
        }
    })
    .await
    .expect("bob's session recorded with its end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_limit_and_notifications_hold_across_redis_nodes() {
    let redis = RedisServer::start().await.unwrap();
    let db = postgres().await;
    let store = seeded(db.clone()).await;
    let log = ConnectionLogStore::new(db);
    let node = || RedisAdapter::new(RedisConfig::new(redis.url()));
    let (a, b) = (
        app(store.clone(), log.clone(), node()).await,
        app(store.clone(), log.clone(), node()).await,
    );
    let mut on_a = user(&a, 1).await;
    let mut on_b = user(&b, 2).await;
    let third = user(&b, 3).await;
    let join = json!({ "channelId": "vip", "password": "s3cret" });
    on_a.emit_with_ack("join-channel", join.clone())
        .await
        .unwrap();
    on_b.emit_with_ack("join-channel", join.clone())
        .await
        .unwrap();
    assert_eq!(
        on_a.wait_for("user:joined").await.unwrap(),
        vec![json!({ "userId": "2", "username": "u2" })]
    );
    assert_eq!(
        third.emit_with_ack("join-channel", join).await.unwrap(),
        json!([{ "error": { "message": "Channel is full" } }])
    );
    assert_eq!(store.member_count("vip").await.unwrap(), 2);
    on_b.wait_for("channel:joined").await.unwrap();
}

/// With seats per user, one user's many sockets hold one seat: they cannot fill a channel.
async fn one_user_takes_one_seat(db: Database) {
    let store = seeded(db).await.seats_per_user(true);
    for tab in 0..5 {
        store
            .join("vip", Some("s3cret"), &format!("tab{tab}"), "7", None)
            .await
            .unwrap();
    }
    assert_eq!(store.member_count("vip").await.unwrap(), 1);
    store
        .join("vip", Some("s3cret"), "other", "8", None)
        .await
        .unwrap();
    assert_eq!(
        store
            .join("vip", Some("s3cret"), "third", "9", None)
            .await
            .unwrap_err(),
        ChannelError::Full,
        "two users fill the two seats"
    );
    store
        .join("vip", Some("s3cret"), "tab5", "7", None)
        .await
        .expect("a user already in may open another tab");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_takes_one_seat_on_sqlite() {
    one_user_takes_one_seat(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_takes_one_seat_on_postgres() {
    one_user_takes_one_seat(postgres().await).await;
}
