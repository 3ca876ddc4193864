//! The single writer of one [`ConnectionLogStore`](super::ConnectionLogStore): takes records from
//! the bounded queue in order, writes them in batches, retries with backoff.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime},
};

use iostack_middleware::logging::{ConnectionRecord, Outcome};
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use crate::Database;

/// Records written in one transaction at most.
const MAX_BATCH: usize = 256;
/// The first pause after a failed write; doubled at each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often one record is tried on its own after its batch failed for good.
const SINGLE_ATTEMPTS: u32 = 3;

/// One write, identified by the row it writes.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Inserts an attempt (a no-op when the row exists: retries are idempotent).
    Attempt {
        id: String,
        record: ConnectionRecord,
    },
    /// Completes a session: insert-or-update, so the row is whole even if its insert was lost.
    End {
        id: String,
        record: ConnectionRecord,
    },
}

/// What the queue carries.
#[derive(Debug)]
pub(super) enum Msg {
    /// A record to write (boxed: queue slots stay pointer-sized).
    Write(Box<Op>),
    /// Answered once everything queued before it is written (or given up).
    Flush(oneshot::Sender<()>),
}

/// The store's counters, shared with the writer.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) written: AtomicU64,
    pub(super) pending: AtomicU64,
    pub(super) write_failures: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) lost: AtomicU64,
}

/// Takes messages in queue order until every sender is gone and the queue is empty.
pub(super) async fn run(db: Database, mut queue: mpsc::Receiver<Msg>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Write(op) => batch.push(*op),
                Msg::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            write_batch(&db, &batch, &counters).await;
            counters.pending.fetch_sub(batch.len() as u64, Relaxed);
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes `batch` in one transaction, retrying transient failures with backoff for as long as they
/// last; after a permanent failure, each record is tried on its own and the ones that still fail
/// are counted as lost.
async fn write_batch(db: &Database, batch: &[Op], counters: &Counters) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let error = match write_in_transaction(db, batch).await {
            Ok(()) => {
                counters.written.fetch_add(batch.len() as u64, Relaxed);
                return;
            }
            Err(e) => e,
        };
        counters.write_failures.fetch_add(1, Relaxed);
        if !is_transient(&error) {
            tracing::warn!(
                records = batch.len(),
                "connection log batch refused, writing records one by one: {error}"
            );
            break;
        }
        tracing::warn!(records = batch.len(), retry_in = ?backoff, "connection log not written, retrying: {error}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    for op in batch {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=SINGLE_ATTEMPTS {
            let result = match db.pool.acquire().await {
                Ok(mut conn) => write(&mut conn, op).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    counters.written.fetch_add(1, Relaxed);
                    break;
                }
                Err(e) if attempt == SINGLE_ATTEMPTS => {
                    counters.write_failures.fetch_add(1, Relaxed);
                    let lost = counters.lost.fetch_add(1, Relaxed) + 1;
                    let record = op.record();
                    tracing::error!(
                        socket.id = %record.socket_id, ns = %record.ns, lost,
                        "connection log record given up: {e}"
                    );
                }
                Err(_) => {
                    counters.write_failures.fetch_add(1, Relaxed);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

async fn write_in_transaction(db: &Database, batch: &[Op]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for op in batch {
        write(&mut tx, op).await?;
    }
    tx.commit().await
}

/// Errors worth waiting out: the database is away, busy or restarting.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            // SQLite: busy, locked. PostgreSQL: connection errors, serialization failures and
            // deadlocks, too many connections, shutting down.
            matches!(
                code.as_ref(),
                "5" | "6" | "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08")
        }),
        _ => false,
    }
}

impl Op {
    pub(super) fn record(&self) -> &ConnectionRecord {
        match self {
            Op::Attempt { record, .. } | Op::End { record, .. } => record,
        }
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes one record.
pub(super) async fn write(conn: &mut AnyConnection, op: &Op) -> Result<(), sqlx::Error> {
    let (id, r) = match op {
        Op::Attempt { id, record } | Op::End { id, record } => (id, record),
    };
    let (outcome, reason) = match &r.outcome {
        Outcome::Admitted => ("admitted", None),
        Outcome::Rejected(reason) => ("rejected", Some(reason.as_str())),
    };
    let sql = match op {
        Op::Attempt { .. } => {
            "INSERT INTO connection_log (id, socket_id, ns, peer, user_agent, user_id, connected_at,
                outcome, reason, disconnected_at, duration_ms, disconnect_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO NOTHING"
        }
        Op::End { .. } => {
            "INSERT INTO connection_log (id, socket_id, ns, peer, user_agent, user_id, connected_at,
                outcome, reason, disconnected_at, duration_ms, disconnect_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET disconnected_at = excluded.disconnected_at,
                duration_ms = excluded.duration_ms, disconnect_reason = excluded.disconnect_reason"
        }
    };
    sqlx::query(sql)
        .bind(id)
        .bind(&r.socket_id)
        .bind(&r.ns)
        .bind(r.peer.map(|p| p.to_string()))
        .bind(&r.user_agent)
        .bind(&r.user_id)
        .bind(millis(r.connected_at))
        .bind(outcome)
        .bind(reason)
        .bind(r.disconnected_at.map(millis))
        .bind(
            r.duration
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
        .bind(&r.disconnect_reason)
        .execute(&mut *conn)
        .await
        .map(drop)
}
