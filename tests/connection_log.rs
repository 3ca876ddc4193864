//! The connection log on real databases (an SQLite file, the local PostgreSQL) under many short
//! sessions from real clients: every attempt is a row, every session row is complete.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use iostack::{
    App,
    extract::AckSender,
    middleware::logging::{ConnectionLogLayer, ConnectionRecord, ConnectionSink},
};
use iostack_channels::{ConnectionLogCounts, ConnectionLogStats, ConnectionLogStore, Database};
use iostack_testing::{TestClient, TestError, TestServer, Transport, WAIT};
use serde_json::json;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceBuilder;

use common::db::{postgres, sqlite};

/// Sessions per run, half over WebSocket and half over long polling, over two namespaces.
const SESSIONS: usize = 320;
/// Clients connecting at the same time.
const CONCURRENCY: usize = 16;
/// Refused CONNECTs sent back to back over one Engine.IO session (same socket id, same millisecond).
const BURST: usize = 60;
/// How long the whole run may take: about 60 s on an idle 2-core machine (the Rust client takes 1 to
/// 3 s per session), so a loaded one has room.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Passes records to the store and counts the session ends, so the test can wait for them.
#[derive(Clone)]
struct Counting {
    store: ConnectionLogStore,
    ended: Arc<(AtomicUsize, Notify)>,
}

impl ConnectionSink for Counting {
    fn on_attempt(&self, record: &ConnectionRecord) {
        self.store.on_attempt(record);
    }

    fn on_disconnect(&self, record: &ConnectionRecord) {
        self.store.on_disconnect(record);
        self.ended.0.fetch_add(1, Ordering::SeqCst);
        self.ended.1.notify_waiters();
    }
}

impl Counting {
    async fn wait_for_ends(&self, count: usize) {
        loop {
            let notified = self.ended.1.notified();
            if self.ended.0.load(Ordering::SeqCst) >= count {
                return;
            }
            notified.await;
        }
    }
}

async fn server(sink: Counting) -> TestServer {
    let ping = async |ack: AckSender| {
        let _ = ack.send(&"pong");
    };
    let log = sink.store.clone();
    let app = App::builder(())
        // The refused burst keeps one session unconnected for a while: not past this.
        .connect_timeout(Duration::from_secs(60))
        .on_connect(
            ServiceBuilder::new()
                .layer(ConnectionLogLayer::new().sink(sink))
                .layer(common::token_auth()),
        )
        .on("ping", ping)
        .namespace("/chat", |ns| ns.on("ping", ping))
        // The log's last rows are written before `serve` returns.
        .hooks(log)
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

/// One short session: connect, one acked event, disconnect. `Ok(false)` when refused as expected.
async fn session(url: String, i: usize) -> Result<bool, TestError> {
    let refused = i % 8 == 7;
    let token = if refused {
        "bad".to_owned()
    } else {
        format!("user:{i}")
    };
    let result = TestClient::builder(url)
        .namespace(if i.is_multiple_of(3) { "/chat" } else { "/" })
        .transport(if i.is_multiple_of(2) {
            Transport::Websocket
        } else {
            Transport::Polling
        })
        .auth(json!({ "token": token }))
        .connect()
        .await;
    match (result, refused) {
        (Err(TestError::Refused(message)), true) => {
            assert_eq!(message, "Invalid token");
            Ok(false)
        }
        (Ok(client), false) => {
            assert_eq!(
                client.emit_with_ack("ping", json!(null)).await?,
                json!(["pong"])
            );
            client.disconnect().await?;
            Ok(true)
        }
        (Ok(_), true) => panic!("session {i} admitted with a bad token"),
        (Err(e), _) => Err(e),
    }
}

/// Sends `count` refused CONNECTs over one raw WebSocket session, each as soon as the previous
/// one is refused: many attempts of one socket id within the same millisecond.
///
/// socketioxide ignores a CONNECT that arrives while its previous attempt on the same session is
/// still finishing (after the refusal was sent): nothing is logged for it and no answer comes, so
/// an unanswered CONNECT is sent again (bounded).
async fn refused_burst(addr: std::net::SocketAddr, count: usize) {
    const ANSWER_WITHIN: Duration = Duration::from_secs(2);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for attempt in 0..count {
        let mut answered = false;
        for _ in 0..5 {
            ws.send(Message::text(r#"40{"token":"bad"}"#))
                .await
                .unwrap();
            let refusal = tokio::time::timeout(ANSWER_WITHIN, async {
                loop {
                    match ws.next().await.expect("open").expect("frame") {
                        Message::Text(t) if t.as_str().starts_with("44") => break,
                        Message::Text(t) if t.as_str() == "2" => {
                            ws.send(Message::text("3")).await.unwrap()
                        }
                        _ => {}
                    }
                }
            });
            if refusal.await.is_ok() {
                answered = true;
                break;
            }
        }
        assert!(answered, "CONNECT {attempt} of the burst never answered");
    }
    ws.close(None).await.unwrap();
}

async fn every_session_leaves_a_complete_row(db: Database) {
    let store = ConnectionLogStore::new(db);
    let sink = Counting {
        store: store.clone(),
        ended: Arc::default(),
    };
    let server = server(sink.clone()).await;
    let url = server.url();

    let run = async {
        let results: Vec<_> = futures_util::stream::iter(0..SESSIONS)
            .map(|i| session(url.clone(), i))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        refused_burst(server.addr(), BURST).await;
        results
    };
    let results = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("sessions done in time");
    let admitted = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(false))).count();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "client failures: {failed:?}");
    assert_eq!(admitted + refused, SESSIONS);

    tokio::time::timeout(RUN_LIMIT, sink.wait_for_ends(admitted))
        .await
        .expect("every session ended on the server");
    // Every record is queued once the session ended: the flush waits for the writer.
    store.flush(WAIT).await.unwrap();
    drop(server);

    let counts = store.counts().await.unwrap();
    let stats = store.stats();
    println!(
        "{SESSIONS} sessions ({admitted} admitted, {refused} refused) and {BURST} refused CONNECTs \
         on one socket: {counts:?}; {stats:?}"
    );
    assert_eq!(
        counts,
        ConnectionLogCounts {
            attempts: (admitted + refused + BURST) as i64,
            admitted: admitted as i64,
            ended: admitted as i64,
            rejected: (refused + BURST) as i64,
        }
    );
    assert_eq!(
        stats,
        ConnectionLogStats {
            written: (2 * admitted + refused + BURST) as u64,
            ..ConnectionLogStats::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_leaves_a_complete_row_on_sqlite() {
    every_session_leaves_a_complete_row(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_leaves_a_complete_row_on_postgres() {
    every_session_leaves_a_complete_row(postgres().await).await;
}

/// Sessions still open when the server shuts down, half of them long-polling: their rows are
/// complete once `serve` returned (the log flushes in its `on_stopped` hook).
async fn shutdown_completes_every_open_session(db: Database) {
    const OPEN: usize = 40;
    let store = ConnectionLogStore::new(db);
    let sink = Counting {
        store: store.clone(),
        ended: Arc::default(),
    };
    let server = server(sink.clone()).await;
    let mut clients = Vec::new();
    for i in 0..OPEN {
        let client = TestClient::builder(server.url())
            .namespace(if i.is_multiple_of(3) { "/chat" } else { "/" })
            .transport(if i.is_multiple_of(2) {
                Transport::Websocket
            } else {
                Transport::Polling
            })
            .auth(json!({ "token": format!("user:{i}") }))
            .connect()
            .await
            .unwrap();
        client.emit_with_ack("ping", json!(null)).await.unwrap();
        clients.push(client);
    }
    tokio::time::timeout(RUN_LIMIT, server.stop())
        .await
        .expect("serve returns")
        .unwrap();
    let counts = store.counts().await.unwrap();
    println!(
        "{OPEN} sessions open at shutdown: {counts:?}; {:?}",
        store.stats()
    );
    assert_eq!(
        counts,
        ConnectionLogCounts {
            attempts: OPEN as i64,
            admitted: OPEN as i64,
            ended: OPEN as i64,
            rejected: 0,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_every_open_session_on_sqlite() {
    shutdown_completes_every_open_session(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_every_open_session_on_postgres() {
    shutdown_completes_every_open_session(postgres().await).await;
}
