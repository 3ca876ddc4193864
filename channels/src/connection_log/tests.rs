//! Tests of [`ConnectionLogStore`](super::ConnectionLogStore) on an SQLite file.

use super::*;

async fn store(capacity: usize) -> ConnectionLogStore {
    let path = std::env::temp_dir().join(format!(
        "iostack-log-unit-{}-{}.db",
        std::process::id(),
        OsRng.next_u64()
    ));
    let db = Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    ConnectionLogStore::with_capacity(db, capacity)
}

fn record(socket: &str, outcome: Outcome) -> ConnectionRecord {
    ConnectionRecord {
        socket_id: socket.into(),
        ns: "/".into(),
        peer: None,
        user_agent: None,
        user_id: Some("1".into()),
        connected_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        disconnected_at: None,
        duration: None,
        disconnect_reason: None,
        outcome,
    }
}

fn ended(mut r: ConnectionRecord) -> ConnectionRecord {
    r.disconnected_at = Some(r.connected_at + Duration::from_millis(5));
    r.duration = Some(Duration::from_millis(5));
    r.disconnect_reason = Some("client namespace disconnect".into());
    r
}

#[tokio::test]
async fn refusals_in_the_same_instant_are_distinct_rows_and_sessions_complete() {
    let store = store(64).await;
    let refused = record("s1", Outcome::Rejected("Invalid token".into()));
    for _ in 0..5 {
        store.on_attempt(&refused);
    }
    let session = record("s2", Outcome::Admitted);
    store.on_attempt(&session);
    store.on_disconnect(&ended(session));
    // A session whose end arrives without its start (say, the start was dropped) is whole too.
    store.on_disconnect(&ended(record("s3", Outcome::Admitted)));
    store.flush(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        store.counts().await.unwrap(),
        ConnectionLogCounts {
            attempts: 7,
            admitted: 2,
            ended: 2,
            rejected: 5
        }
    );
    assert_eq!(
        store.stats(),
        ConnectionLogStats {
            written: 8,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_full_queue_counts_what_it_refuses() {
    let store = store(1).await;
    // On this single-threaded runtime the writer cannot run until the test yields.
    for i in 0..100 {
        store.on_attempt(&record(&format!("s{i}"), Outcome::Admitted));
    }
    assert_eq!(store.stats().dropped, 99);
    store.flush(Duration::from_secs(5)).await.unwrap();
    assert_eq!(store.stats().written, 1);
    assert_eq!(store.counts().await.unwrap().attempts, 1);
}

#[tokio::test]
async fn records_the_database_refuses_for_good_are_counted_as_lost() {
    let store = store(64).await;
    sqlx::query("DROP TABLE connection_log")
        .execute(&store.inner.db.pool)
        .await
        .unwrap();
    store.on_attempt(&record("s1", Outcome::Admitted));
    store.on_attempt(&record("s2", Outcome::Admitted));
    store.flush(Duration::from_secs(30)).await.unwrap();
    let stats = store.stats();
    assert_eq!((stats.written, stats.lost, stats.pending), (0, 2, 0));
    assert!(stats.write_failures >= 2, "{stats:?}");
}

#[tokio::test]
async fn flush_without_records_returns_at_once() {
    assert_eq!(store(4).await.flush(Duration::ZERO).await, Ok(()));
}
