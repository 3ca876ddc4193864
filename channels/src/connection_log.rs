//! [`ConnectionLogStore`]: the connection records of the logging layer, in the database.

use iostack_middleware::logging::{ConnectionRecord, ConnectionSink, Outcome};

use crate::Database;

/// Writes every connection attempt and session end into the `connection_log` table.
///
/// Use it as the sink of `ConnectionLogLayer::new().sink(ConnectionLogStore::new(db))`. Writes run in
/// their own tasks so the connection never waits on the database; failures are logged.
#[derive(Debug, Clone)]
pub struct ConnectionLogStore {
    db: Database,
}

fn millis(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ConnectionLogStore {
    /// A log in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Inserts an attempt.
    pub async fn record_attempt(&self, r: &ConnectionRecord) -> Result<(), sqlx::Error> {
        let (outcome, reason) = match &r.outcome {
            Outcome::Admitted => ("admitted", None),
            Outcome::Rejected(reason) => ("rejected", Some(reason.clone())),
        };
        sqlx::query(
            "INSERT INTO connection_log (socket_id, ns, peer, user_agent, user_id, connected_at, outcome, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&r.socket_id)
        .bind(&r.ns)
        .bind(r.peer.map(|p| p.to_string()))
        .bind(&r.user_agent)
        .bind(&r.user_id)
        .bind(millis(r.connected_at))
        .bind(outcome)
        .bind(reason)
        .execute(&self.db.pool)
        .await
        .map(drop)
    }

    /// Completes a session with its end and duration.
    pub async fn record_disconnect(&self, r: &ConnectionRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE connection_log SET disconnected_at = $1, duration_ms = $2, reason = $3
             WHERE socket_id = $4 AND ns = $5 AND connected_at = $6",
        )
        .bind(r.disconnected_at.map(millis))
        .bind(r.duration.map(|d| d.as_millis() as i64))
        .bind(&r.disconnect_reason)
        .bind(&r.socket_id)
        .bind(&r.ns)
        .bind(millis(r.connected_at))
        .execute(&self.db.pool)
        .await
        .map(drop)
    }

    /// The number of recorded attempts of user `user_id` and how many of them have ended.
    pub async fn sessions_of(&self, user_id: &str) -> Result<(i64, i64), sqlx::Error> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM connection_log WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&self.db.pool)
                .await?;
        let ended: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM connection_log WHERE user_id = $1 AND duration_ms IS NOT NULL",
        )
        .bind(user_id)
        .fetch_one(&self.db.pool)
        .await?;
        Ok((total, ended))
    }
}

impl ConnectionSink for ConnectionLogStore {
    fn on_attempt(&self, record: &ConnectionRecord) {
        let (store, record) = (self.clone(), record.clone());
        tokio::spawn(async move {
            if let Err(e) = store.record_attempt(&record).await {
                tracing::error!(socket.id = %record.socket_id, "connection log not written: {e}");
            }
        });
    }

    fn on_disconnect(&self, record: &ConnectionRecord) {
        let (store, record) = (self.clone(), record.clone());
        tokio::spawn(async move {
            if let Err(e) = store.record_disconnect(&record).await {
                tracing::error!(socket.id = %record.socket_id, "connection log not updated: {e}");
            }
        });
    }
}
