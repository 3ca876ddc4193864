//! [`ConnectionLogStore`]: the connection records of the logging layer, in the database.

mod writer;

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime},
};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use iostack_middleware::logging::{ConnectionRecord, ConnectionSink, Outcome};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::Database;
use writer::{Counters, Msg, Op};

/// How many records may wait for the writer by default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 65_536;

/// Writes every connection attempt and session end into the `connection_log` table.
///
/// Use it as the sink of `ConnectionLogLayer::new().sink(ConnectionLogStore::new(db))`. The
/// connection never waits on the database: records go into one bounded queue, in the order the
/// connections produced them, and one writer task per store writes them in batches (one
/// transaction each). Each attempt is its own row (its id is unique per attempt, even for
/// attempts on one socket in the same millisecond); a session's row is inserted when it is
/// admitted and completed with `disconnected_at`, `duration_ms` and `disconnect_reason` when it
/// ends, the refusal `reason` of a refused attempt kept apart. Failed writes are retried with
/// backoff (transient errors for as long as they last), and every failure is counted in
/// [`stats`](Self::stats); a full queue refuses records and counts them as `dropped`, never
/// silently.
///
/// Before the process exits, call [`flush`](Self::flush) (after the server stopped) so the queue
/// is written.
#[derive(Debug, Clone)]
pub struct ConnectionLogStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    capacity: usize,
    /// Started with the first record, on the runtime that produced it.
    queue: OnceLock<mpsc::Sender<Msg>>,
    counters: Arc<Counters>,
    /// Tells refused attempts apart: a per-store random prefix and a sequence.
    node: u64,
    sequence: AtomicU64,
}

/// The counters of a [`ConnectionLogStore`], for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionLogStats {
    /// Records written.
    pub written: u64,
    /// Records queued and not written yet.
    pub pending: u64,
    /// Write attempts that failed (each retry counts).
    pub write_failures: u64,
    /// Records refused because the queue was full.
    pub dropped: u64,
    /// Records given up after the database refused them for good.
    pub lost: u64,
}

/// What the `connection_log` table holds ([`ConnectionLogStore::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionLogCounts {
    /// Rows: one per attempt.
    pub attempts: i64,
    /// Attempts that were admitted (sessions).
    pub admitted: i64,
    /// Sessions complete with their end, duration and disconnect reason.
    pub ended: i64,
    /// Attempts refused, with the reason the client read.
    pub rejected: i64,
}

/// [`ConnectionLogStore::flush`] ran out of time; the records are still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection log: {pending} records not written within {within:?}")]
pub struct FlushTimeout {
    /// Records still waiting for the writer.
    pub pending: u64,
    /// The time the flush was given.
    pub within: Duration,
}

impl ConnectionLogStore {
    /// A log in `db`, queueing at most [`DEFAULT_QUEUE_CAPACITY`] records.
    pub fn new(db: Database) -> Self {
        Self::with_capacity(db, DEFAULT_QUEUE_CAPACITY)
    }

    /// A log in `db`, queueing at most `capacity` records (at least one).
    pub fn with_capacity(db: Database, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                capacity: capacity.max(1),
                queue: OnceLock::new(),
                counters: Arc::default(),
                node: OsRng.next_u64(),
                sequence: AtomicU64::new(0),
            }),
        }
    }

    /// The store's counters: written, pending, failed, dropped and lost records.
    pub fn stats(&self) -> ConnectionLogStats {
        let c = &self.inner.counters;
        ConnectionLogStats {
            written: c.written.load(Relaxed),
            pending: c.pending.load(Relaxed),
            write_failures: c.write_failures.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            lost: c.lost.load(Relaxed),
        }
    }

    /// Waits until every record queued before the call is written (or given up), at most `within`.
    /// Call it once the server has stopped, before the runtime ends; on timeout the count of
    /// records left is logged and returned.
    pub async fn flush(&self, within: Duration) -> Result<(), FlushTimeout> {
        let Some(queue) = self.inner.queue.get() else {
            return Ok(()); // nothing was ever queued
        };
        let (done, written) = oneshot::channel();
        let wait = async {
            if queue.send(Msg::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        };
        if tokio::time::timeout(within, wait).await.is_ok() {
            return Ok(());
        }
        let error = FlushTimeout {
            pending: self.stats().pending,
            within,
        };
        tracing::error!(pending = error.pending, "{error}");
        Err(error)
    }

    /// Writes an attempt now, without the queue (the sink queues instead).
    pub async fn record_attempt(&self, r: &ConnectionRecord) -> Result<(), sqlx::Error> {
        let op = self.attempt(r);
        let mut conn = self.inner.db.pool.acquire().await?;
        writer::write(&mut conn, &op).await
    }

    /// Completes a session now with its end, duration and reason, without the queue.
    pub async fn record_disconnect(&self, r: &ConnectionRecord) -> Result<(), sqlx::Error> {
        let op = Op::End {
            id: session_id(r),
            record: r.clone(),
        };
        let mut conn = self.inner.db.pool.acquire().await?;
        writer::write(&mut conn, &op).await
    }

    /// What the table holds, for audits and tests.
    pub async fn counts(&self) -> Result<ConnectionLogCounts, sqlx::Error> {
        let count = async |condition: &str| -> Result<i64, sqlx::Error> {
            sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM connection_log WHERE {condition}"
            ))
            .fetch_one(&self.inner.db.pool)
            .await
        };
        Ok(ConnectionLogCounts {
            attempts: count("TRUE").await?,
            admitted: count("outcome = 'admitted'").await?,
            ended: count(
                "outcome = 'admitted' AND disconnected_at IS NOT NULL \
                 AND duration_ms IS NOT NULL AND disconnect_reason IS NOT NULL",
            )
            .await?,
            rejected: count("outcome = 'rejected' AND reason IS NOT NULL").await?,
        })
    }

    /// The number of recorded attempts of user `user_id` and how many of them have ended.
    pub async fn sessions_of(&self, user_id: &str) -> Result<(i64, i64), sqlx::Error> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM connection_log WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&self.inner.db.pool)
                .await?;
        let ended: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM connection_log WHERE user_id = $1 AND duration_ms IS NOT NULL",
        )
        .bind(user_id)
        .fetch_one(&self.inner.db.pool)
        .await?;
        Ok((total, ended))
    }

    fn attempt(&self, r: &ConnectionRecord) -> Op {
        let id = match r.outcome {
            Outcome::Admitted => session_id(r),
            Outcome::Rejected(_) => {
                let n = self.inner.sequence.fetch_add(1, Relaxed);
                format!("{}:r{:016x}-{n}", session_id(r), self.inner.node)
            }
        };
        Op::Attempt {
            id,
            record: r.clone(),
        }
    }

    fn enqueue(&self, op: Op) {
        let inner = &self.inner;
        let queue = inner.queue.get_or_init(|| {
            let (queue, receiver) = mpsc::channel(inner.capacity);
            tokio::spawn(writer::run(
                inner.db.clone(),
                receiver,
                inner.counters.clone(),
            ));
            queue
        });
        inner.counters.pending.fetch_add(1, Relaxed);
        if let Err(e) = queue.try_send(Msg::Write(Box::new(op))) {
            inner.counters.pending.fetch_sub(1, Relaxed);
            let dropped = inner.counters.dropped.fetch_add(1, Relaxed) + 1;
            // One line for the first and then every thousandth: a full queue means a slow or
            // absent database, which the writer already reports.
            if dropped == 1 || dropped.is_multiple_of(1000) {
                let (reason, record) = match &e {
                    mpsc::error::TrySendError::Full(Msg::Write(op)) => ("full", op.record()),
                    mpsc::error::TrySendError::Closed(Msg::Write(op)) => ("closed", op.record()),
                    _ => return,
                };
                tracing::error!(
                    socket.id = %record.socket_id, ns = %record.ns, dropped,
                    "connection log queue {reason}: record dropped"
                );
            }
        }
    }
}

/// The row of an admitted session: the same for its insert and its completion. Two sessions of one
/// socket in one namespace cannot start in the same nanosecond.
fn session_id(r: &ConnectionRecord) -> String {
    let nanos = r
        .connected_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos}:{}:{}", r.ns, r.socket_id)
}

impl ConnectionSink for ConnectionLogStore {
    fn on_attempt(&self, record: &ConnectionRecord) {
        self.enqueue(self.attempt(record));
    }

    fn on_disconnect(&self, record: &ConnectionRecord) {
        self.enqueue(Op::End {
            id: session_id(record),
            record: record.clone(),
        });
    }
}

/// As hooks: the log is flushed once the server has stopped, before `serve` returns, so the
/// rows of the last sessions are written. Register with `.hooks(log.clone())`.
#[async_trait::async_trait]
impl<S> iostack_core::Hooks<S> for ConnectionLogStore
where
    S: Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "connection log"
    }

    async fn on_stopped(&self, _: &iostack_core::Io) {
        // The shutdown bounds the hooks; the log gives up a little earlier and says what it left.
        let _ = self.flush(Duration::from_secs(4)).await;
    }
}

#[cfg(test)]
mod tests;
