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

    async fn migrate(&self) -> Result<(), DatabaseError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS iostack_migrations (version BIGINT PRIMARY KEY)")
            .execute(&self.pool)
            .await?;
        for (version, statements) in MIGRATIONS {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM iostack_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?;
            if applied.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for statement in *statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            // Another node may have applied it meanwhile: the primary key makes that a no-op.
            sqlx::query(
                "INSERT INTO iostack_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(version)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
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
