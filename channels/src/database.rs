//! [`Database`]: one sqlx pool (SQLite by default, PostgreSQL when asked) and its migrations.

use sqlx::{AnyPool, any::AnyPoolOptions};

/// The SQLite database used when `DATABASE_URL` is not set: a file in the working directory,
/// created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://iostack.db?mode=rwc";

/// Which engine the pool talks to (some statements differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one writer at a time, statements are atomic.
    Sqlite,
    /// PostgreSQL: shared by every node, row locks for member limits.
    Postgres,
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL names no supported engine.
    #[error("unsupported database URL `{0}`: use sqlite://... or postgres://...")]
    UnsupportedUrl(String),
    /// The database could not be reached (or refused the credentials) within the connect timeout.
    #[error("cannot reach the database at {url}: {source}")]
    Unreachable {
        /// The URL, password redacted.
        url: String,
        /// What the driver said.
        source: sqlx::Error,
    },
    /// The database refused a query.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// How long connecting (and waiting for a pooled connection) may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection pool with the iostack tables migrated; cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

/// Versioned schema changes, applied once each, in order. Portable SQL for both engines.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS channels (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            private BOOLEAN NOT NULL,
            password_hash TEXT,
            max_members BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS channel_members (
            channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            socket_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            username TEXT,
            joined_at BIGINT NOT NULL,
            PRIMARY KEY (channel_id, socket_id)
        )",
        "CREATE TABLE IF NOT EXISTS connection_log (
            socket_id TEXT NOT NULL,
            ns TEXT NOT NULL,
            peer TEXT,
            user_agent TEXT,
            user_id TEXT,
            connected_at BIGINT NOT NULL,
            disconnected_at BIGINT,
            duration_ms BIGINT,
            outcome TEXT NOT NULL,
            reason TEXT,
            PRIMARY KEY (socket_id, ns, connected_at)
        )",
    ],
), (
    // One row per attempt whatever its timing: a surrogate key (v1 keyed on a millisecond
    // timestamp and skipped conflicts), and the disconnect reason kept apart from the refusal's.
    2,
    &[
        "CREATE TABLE connection_log_v2 (
            id TEXT PRIMARY KEY,
            socket_id TEXT NOT NULL,
            ns TEXT NOT NULL,
            peer TEXT,
            user_agent TEXT,
            user_id TEXT,
            connected_at BIGINT NOT NULL,
            disconnected_at BIGINT,
            duration_ms BIGINT,
            outcome TEXT NOT NULL,
            reason TEXT,
            disconnect_reason TEXT
        )",
        "INSERT INTO connection_log_v2 (id, socket_id, ns, peer, user_agent, user_id, connected_at,
            disconnected_at, duration_ms, outcome, reason, disconnect_reason)
         SELECT 'v1:' || CAST(connected_at AS TEXT) || ':' || ns || ':' || socket_id, socket_id, ns,
            peer, user_agent, user_id, connected_at, disconnected_at, duration_ms, outcome,
            CASE WHEN outcome = 'admitted' THEN NULL ELSE reason END,
            CASE WHEN outcome = 'admitted' THEN reason ELSE NULL END
         FROM connection_log",
        "DROP TABLE connection_log",
        "ALTER TABLE connection_log_v2 RENAME TO connection_log",
        "CREATE INDEX IF NOT EXISTS connection_log_user_id ON connection_log (user_id)",
    ],
), (
    // Seats owned by the node that took them, and the nodes' heartbeats (see `seats.rs`).
    3,
    &[
        "CREATE TABLE IF NOT EXISTS channel_nodes (
            node_id TEXT PRIMARY KEY,
            seen_at BIGINT NOT NULL
        )",
        "ALTER TABLE channel_members ADD COLUMN node_id TEXT",
        "CREATE INDEX IF NOT EXISTS channel_members_node_id ON channel_members (node_id)",
    ],
)];

impl Database {
    /// Connects to `url` (`sqlite://file.db?mode=rwc` or `postgres://user@host/db`) and migrates.
    /// An unreachable database fails within 5 s, naming the URL with its password redacted.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DatabaseError::UnsupportedUrl(url.to_owned()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(url)
            .await
            .map_err(|source| DatabaseError::Unreachable {
                url: iostack_core::redact_url(url),
                source,
            })?;
        let db = Self { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    /// `DATABASE_URL` when set, else [`DEFAULT_DATABASE_URL`].
    pub async fn from_env() -> Result<Self, DatabaseError> {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
        Self::connect(&url).await
    }

    /// The engine behind the pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the missing migrations in one transaction; on PostgreSQL under an advisory lock, so
    /// nodes starting together migrate one after the other.
    async fn migrate(&self) -> Result<(), DatabaseError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Released at commit. The lock's own result is `void`, which the `Any` driver cannot
            // decode.
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(7105853)) AS migrating")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS iostack_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await?;
        let mut applied_now = Vec::new();
        for (version, statements) in MIGRATIONS {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM iostack_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            for statement in *statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO iostack_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            applied_now.push(*version);
        }
        tx.commit().await?;
        for version in applied_now {
            tracing::info!(version, "database migrated");
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a version 1 database at `url` with rows in every table, then migrates it.
    async fn migrates_a_version_1_database_keeping_its_rows(url: &str) {
        let pool = AnyPoolOptions::new().connect(url).await.unwrap();
        sqlx::query("CREATE TABLE iostack_migrations (version BIGINT PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        for statement in MIGRATIONS[0].1 {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        for statement in [
            "INSERT INTO iostack_migrations (version) VALUES (1)",
            "INSERT INTO channels VALUES ('vip', 'VIP', TRUE, NULL, 2, 0)",
            "INSERT INTO channel_members VALUES ('vip', 's1', 'u1', NULL, 5)",
            // v1 wrote the disconnect reason over `reason`.
            "INSERT INTO connection_log VALUES ('s1', '/', NULL, NULL, 'u1', 10, 20, 10, 'admitted', 'transport close')",
            "INSERT INTO connection_log VALUES ('s2', '/', NULL, NULL, NULL, 10, NULL, NULL, 'rejected', 'Invalid token')",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let db = Database::connect(url).await.unwrap();
        let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT id, reason, disconnect_reason FROM connection_log ORDER BY socket_id",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                ("v1:10:/:s1".into(), None, Some("transport close".into())),
                ("v1:10:/:s2".into(), Some("Invalid token".into()), None),
            ]
        );
        let owner: Option<String> =
            sqlx::query_scalar("SELECT node_id FROM channel_members WHERE socket_id = 's1'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(owner, None, "seats of before ownership belong to nobody");
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM iostack_migrations")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(versions, MIGRATIONS.len() as i64);
        // Connecting again applies nothing twice.
        Database::connect(url).await.unwrap();
    }

    #[tokio::test]
    async fn migrates_a_version_1_sqlite_database() {
        sqlx::any::install_default_drivers();
        let path = std::env::temp_dir().join(format!(
            "iostack-migrate-{}-{}.db",
            std::process::id(),
            now_millis()
        ));
        migrates_a_version_1_database_keeping_its_rows(&format!(
            "sqlite://{}?mode=rwc",
            path.display()
        ))
        .await;
    }

    /// On the local PostgreSQL (`IOSTACK_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432`).
    #[tokio::test]
    async fn migrates_a_version_1_postgres_database() {
        migrates_a_version_1_database_keeping_its_rows(&throwaway_postgres("migrate").await).await;
    }

    /// The URL of a new, empty PostgreSQL database (`IOSTACK_TEST_PG_URL` or the local server).
    async fn throwaway_postgres(purpose: &str) -> String {
        sqlx::any::install_default_drivers();
        let base = std::env::var("IOSTACK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let admin = AnyPoolOptions::new()
            .connect(&format!("{base}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {base}: {e}"));
        let name = format!(
            "iostack_test_{purpose}_{}_{}",
            std::process::id(),
            now_millis()
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        format!("{base}/{name}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_connecting_together_migrate_once_on_postgres() {
        let url = throwaway_postgres("together").await;
        let nodes = (0..4).map(|_| {
            let url = url.clone();
            async move { Database::connect(&url).await }
        });
        for node in spawn_all(nodes).await {
            node.unwrap();
        }
    }

    /// Runs the futures as tasks, concurrently; their results in order.
    async fn spawn_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }
}
