//! Seat ownership: every seat belongs to the node that took it, so the seats of a node that
//! crashed are freed, and a node frees its own before it exits.
//!
//! Each node writes a heartbeat (`channel_nodes`) every [`HEARTBEAT`] while its store is alive. A
//! node starting up (at its first join, or at [`ChannelStore::recover`]) frees the seats left by
//! an earlier run with the same node id, and the seats of nodes whose heartbeat stopped more than
//! three beats ago; on SQLite, a database one node owns, it frees every other node's seats at once.

use std::{
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use tokio::sync::OnceCell;

use crate::{
    ChannelError, ChannelStore, Database,
    database::{Backend, now_millis},
    store::failed,
};

/// How often a node tells the others it is alive, by default.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Who owns the seats a store takes.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) id: String,
    heartbeat: Duration,
    started: OnceCell<()>,
}

impl Node {
    pub(crate) fn new(id: String, heartbeat: Duration) -> Arc<Self> {
        Arc::new(Self {
            id,
            heartbeat: heartbeat.max(Duration::from_millis(10)),
            started: OnceCell::new(),
        })
    }

    pub(crate) fn process(heartbeat: Duration) -> Arc<Self> {
        Self::new(process().0.clone(), heartbeat)
    }
}

/// This process's node id (random, shared by every store of the process) and when it started
/// (milliseconds): seats of this node id taken earlier belong to an earlier run.
fn process() -> &'static (String, i64) {
    static PROCESS: OnceLock<(String, i64)> = OnceLock::new();
    PROCESS.get_or_init(|| {
        let id = format!("{:016x}{:016x}", OsRng.next_u64(), OsRng.next_u64());
        (id, now_millis())
    })
}

impl ChannelStore {
    /// Names this node (e.g. its host or pod name, stable across restarts): at startup the seats
    /// left by an earlier run with the same name are freed at once. Default: a random id per
    /// process, whose seats the other nodes free once its heartbeat stops.
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node = Node::new(id.into(), self.node.heartbeat);
        self
    }

    /// Sets how often this node writes its heartbeat (default [`HEARTBEAT`], at least 10 ms); a
    /// node silent for three of these intervals is presumed dead and its seats are freed. Node
    /// clocks sharing a database must agree to well within that.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.node = Node::new(self.node.id.clone(), every);
        self
    }

    /// This node's id, as stored with its seats.
    pub fn node(&self) -> &str {
        &self.node.id
    }

    /// Frees the seats nobody holds any more (see the module docs) and starts this node's
    /// heartbeat; returns how many seats were freed. Runs once per store (its first join runs it
    /// too); call it at startup to free them before any client asks.
    pub async fn recover(&self) -> Result<u64, ChannelError> {
        let mut freed = 0;
        self.node
            .started
            .get_or_try_init(|| async {
                freed =
                    free_stale_seats(&self.db, &self.node.id, self.node.heartbeat, true).await?;
                if freed > 0 {
                    tracing::info!(node = %self.node.id, freed, "seats of stopped nodes freed");
                }
                let (db, node) = (self.db.clone(), Arc::downgrade(&self.node));
                tokio::spawn(beat(db, node));
                Ok::<_, ChannelError>(())
            })
            .await?;
        Ok(freed)
    }

    /// Frees every seat this node holds and stops announcing it: call it once the server has
    /// stopped, before the process exits. Returns how many seats were freed.
    pub async fn release_node(&self) -> Result<u64, ChannelError> {
        let freed = sqlx::query("DELETE FROM channel_members WHERE node_id = $1")
            .bind(&self.node.id)
            .execute(&self.db.pool)
            .await
            .map_err(failed)?
            .rows_affected();
        sqlx::query("DELETE FROM channel_nodes WHERE node_id = $1")
            .bind(&self.node.id)
            .execute(&self.db.pool)
            .await
            .map_err(failed)?;
        Ok(freed)
    }
}

/// Writes the heartbeat of node `id`, then frees the seats of nodes that stopped; when `starting`,
/// also those of an earlier run of this node id, and on SQLite those of every other node.
async fn free_stale_seats(
    db: &Database,
    id: &str,
    heartbeat: Duration,
    starting: bool,
) -> Result<u64, ChannelError> {
    let now = now_millis();
    sqlx::query(
        "INSERT INTO channel_nodes (node_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(id)
    .bind(now)
    .execute(&db.pool)
    .await
    .map_err(failed)?;
    let run = |sql: &'static str, value: i64| async move {
        sqlx::query(sql)
            .bind(id)
            .bind(value)
            .execute(&db.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(failed)
    };
    let mut freed = 0;
    if starting {
        let earlier_run = match db.backend {
            Backend::Sqlite => {
                "DELETE FROM channel_members
                 WHERE node_id IS NULL OR node_id <> $1 OR joined_at < $2"
            }
            Backend::Postgres => {
                "DELETE FROM channel_members WHERE node_id = $1 AND joined_at < $2"
            }
        };
        freed += run(earlier_run, process().1).await?;
    }
    let stale_before = now - 3 * i64::try_from(heartbeat.as_millis()).unwrap_or(i64::MAX / 4);
    freed += run(
        "DELETE FROM channel_members WHERE node_id IS NULL OR (node_id <> $1 AND node_id NOT IN
         (SELECT node_id FROM channel_nodes WHERE seen_at >= $2))",
        stale_before,
    )
    .await?;
    run(
        "DELETE FROM channel_nodes WHERE node_id <> $1 AND seen_at < $2",
        stale_before,
    )
    .await?;
    Ok(freed)
}

/// Beats while the node's stores live; a failed beat is logged and tried again at the next.
async fn beat(db: Database, node: Weak<Node>) {
    let Some((id, every)) = node.upgrade().map(|n| (n.id.clone(), n.heartbeat)) else {
        return;
    };
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        if node.upgrade().is_none() {
            return;
        }
        if let Err(e) = free_stale_seats(&db, &id, every, false).await {
            tracing::warn!(node = %id, "heartbeat not written: {e}");
        }
    }
}
