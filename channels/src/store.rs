//! [`ChannelStore`]: channels, hashed passwords and member limits, in the database.

use std::sync::Arc;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tokio::sync::Semaphore;

use crate::{
    ChannelError, Database,
    database::{Backend, now_millis},
    seats::{HEARTBEAT, Node},
};

/// A channel as clients see it (never its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// The channel id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Whether joining needs the password.
    pub private: bool,
    /// How many sockets may be in it at once.
    pub max_members: i64,
}

/// One member of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The member's user id.
    pub user_id: String,
    /// The member's display name.
    pub username: Option<String>,
}

/// A new channel.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The channel id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The password of a private channel (`None`: public).
    pub password: Option<String>,
    /// How many sockets may be in it at once.
    pub max_members: i64,
}

/// Channels and their members, in a [`Database`] (shared by every node when it is PostgreSQL).
///
/// Password hashing (Argon2id, ~20 MiB and tens of milliseconds each) runs on tokio's blocking
/// threads, at most [`hashing_limit`](Self::hashing_limit) at a time, and never while a pooled
/// connection or a row lock is held: a storm of wrong passwords slows only the joins that need a
/// hash, never the runtime nor the database.
#[derive(Debug, Clone)]
pub struct ChannelStore {
    pub(crate) db: Database,
    hashing: Arc<Semaphore>,
    pub(crate) node: Arc<Node>,
    per_user: bool,
}

/// How many password hashes run at once by default: the cores, less one for the runtime.
fn default_hashing_limit() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

pub(crate) fn failed(e: impl std::fmt::Display) -> ChannelError {
    tracing::error!("channel store: {e}");
    ChannelError::Failed
}

impl ChannelStore {
    /// A store on `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            hashing: Arc::new(Semaphore::new(default_hashing_limit())),
            node: Node::process(HEARTBEAT),
            per_user: false,
        }
    }

    /// Counts seats per user instead of per socket: a user's several tabs (or a hundred sockets
    /// of one client) hold one seat, so one user cannot fill a channel. Off by default, as on the
    /// seed page, where a channel's size is the number of sockets in its room.
    pub fn seats_per_user(mut self, per_user: bool) -> Self {
        self.per_user = per_user;
        self
    }

    /// Runs at most `limit` password hashes at once (default: the number of cores less one, at
    /// least one); the others wait their turn without holding a thread or a connection.
    pub fn hashing_limit(mut self, limit: usize) -> Self {
        self.hashing = Arc::new(Semaphore::new(limit.max(1)));
        self
    }

    /// Runs `work` on a blocking thread once a hashing slot is free.
    async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ChannelError> {
        let _slot = self.hashing.acquire().await.map_err(failed)?;
        tokio::task::spawn_blocking(work).await.map_err(failed)
    }

    /// Creates (or replaces) a channel; the password is stored as an Argon2id hash.
    pub async fn create(&self, channel: NewChannel) -> Result<Channel, ChannelError> {
        let hash = match channel.password.clone() {
            Some(password) => Some(
                self.hash(move || {
                    Argon2::default()
                        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                        .map(|h| h.to_string())
                })
                .await?
                .map_err(failed)?,
            ),
            None => None,
        };
        sqlx::query(
            "INSERT INTO channels (id, name, private, password_hash, max_members, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET name = $2, private = $3, password_hash = $4, max_members = $5",
        )
        .bind(&channel.id)
        .bind(&channel.name)
        .bind(hash.is_some())
        .bind(hash)
        .bind(channel.max_members)
        .bind(now_millis())
        .execute(&self.db.pool)
        .await
        .map_err(failed)?;
        Ok(Channel {
            private: channel.password.is_some(),
            id: channel.id,
            name: channel.name,
            max_members: channel.max_members,
        })
    }

    /// The channel `id`, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Channel>, ChannelError> {
        // `private` read as a number: SQLite stores booleans as integers, which the `Any` driver
        // does not decode as `bool`.
        let row = sqlx::query(
            "SELECT id, name, CASE WHEN private THEN 1 ELSE 0 END AS private, max_members
             FROM channels WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(failed)?;
        row.map(|r| {
            Ok(Channel {
                id: r.try_get("id").map_err(failed)?,
                name: r.try_get("name").map_err(failed)?,
                private: r.try_get::<i32, _>("private").map_err(failed)? != 0,
                max_members: r.try_get("max_members").map_err(failed)?,
            })
        })
        .transpose()
    }

    /// Adds socket `socket_id` of `user_id` to channel `id`: `Channel not found`, `Invalid password`
    /// (private channels), `Channel is full`, or the members after joining. Joining again is a no-op.
    ///
    /// The password is checked first, on a blocking thread and with no connection held; the seat is
    /// then taken atomically. The limit holds under concurrent joins, across nodes: on SQLite the
    /// conditional insert is one atomic statement; on PostgreSQL the channel row is locked for that
    /// one insert only.
    pub async fn join(
        &self,
        id: &str,
        password: Option<&str>,
        socket_id: &str,
        user_id: &str,
        username: Option<&str>,
    ) -> Result<Vec<Member>, ChannelError> {
        self.recover().await?;
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM channels WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(failed)?;
        if let Some(hash) = hash.ok_or(ChannelError::NotFound)? {
            let password = password.unwrap_or_default().to_owned();
            let matches = self
                .hash(move || {
                    let hash = PasswordHash::new(&hash).map_err(failed)?;
                    // argon2 compares in constant time.
                    Ok::<_, ChannelError>(
                        Argon2::default()
                            .verify_password(password.as_bytes(), &hash)
                            .is_ok(),
                    )
                })
                .await??;
            if !matches {
                return Err(ChannelError::InvalidPassword);
            }
        }
        match self.db.backend {
            Backend::Postgres => {
                let mut tx = self.db.pool.begin().await.map_err(failed)?;
                let locked: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM channels WHERE id = $1 FOR UPDATE")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(failed)?;
                locked.ok_or(ChannelError::NotFound)?;
                take_seat(&mut tx, self.seat(id, socket_id, user_id, username)).await?;
                tx.commit().await.map_err(failed)?;
            }
            Backend::Sqlite => {
                // No transaction: a deferred one could fail to upgrade its lock under a burst.
                let mut conn = self.db.pool.acquire().await.map_err(failed)?;
                take_seat(&mut conn, self.seat(id, socket_id, user_id, username)).await?;
            }
        }
        self.members(id).await
    }

    /// Removes socket `socket_id` from channel `id`; returns whether it was a member.
    pub async fn leave(&self, id: &str, socket_id: &str) -> Result<bool, ChannelError> {
        let done =
            sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND socket_id = $2")
                .bind(id)
                .bind(socket_id)
                .execute(&self.db.pool)
                .await
                .map_err(failed)?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes socket `socket_id` from every channel (when it disconnects); returns those channel ids.
    pub async fn leave_all(&self, socket_id: &str) -> Result<Vec<String>, ChannelError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT channel_id FROM channel_members WHERE socket_id = $1")
                .bind(socket_id)
                .fetch_all(&self.db.pool)
                .await
                .map_err(failed)?;
        sqlx::query("DELETE FROM channel_members WHERE socket_id = $1")
            .bind(socket_id)
            .execute(&self.db.pool)
            .await
            .map_err(failed)?;
        Ok(ids)
    }

    /// The members of channel `id`, oldest first.
    pub async fn members(&self, id: &str) -> Result<Vec<Member>, ChannelError> {
        let rows = sqlx::query("SELECT user_id, username FROM channel_members WHERE channel_id = $1 ORDER BY joined_at, socket_id")
            .bind(id)
            .fetch_all(&self.db.pool)
            .await
            .map_err(failed)?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user_id: r.try_get("user_id").map_err(failed)?,
                    username: r.try_get("username").map_err(failed)?,
                })
            })
            .collect()
    }

    /// How many seats are taken in channel `id` (sockets, or users with
    /// [`seats_per_user`](Self::seats_per_user)), over every node sharing the database.
    pub async fn member_count(&self, id: &str) -> Result<i64, ChannelError> {
        let count = if self.per_user {
            "SELECT COUNT(DISTINCT user_id) FROM channel_members WHERE channel_id = $1"
        } else {
            "SELECT COUNT(*) FROM channel_members WHERE channel_id = $1"
        };
        sqlx::query_scalar(count)
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .map_err(failed)
    }

    /// The stored password hash of channel `id` (for audits and tests; never sent to clients).
    pub async fn password_hash(&self, id: &str) -> Result<Option<String>, ChannelError> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM channels WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(failed)?;
        Ok(hash.flatten())
    }
}

/// A seat to take: who, where, and how seats are counted.
struct Seat<'a> {
    channel: &'a str,
    socket: &'a str,
    user: &'a str,
    username: Option<&'a str>,
    node: &'a str,
    per_user: bool,
}

impl ChannelStore {
    fn seat<'a>(
        &'a self,
        channel: &'a str,
        socket: &'a str,
        user: &'a str,
        username: Option<&'a str>,
    ) -> Seat<'a> {
        Seat {
            channel,
            socket,
            user,
            username,
            node: &self.node.id,
            per_user: self.per_user,
        }
    }
}

/// Inserts the membership, owned by its node, only while the channel has room (a no-op for a
/// member already in; with seats per user, a user already in takes no new seat).
async fn take_seat(conn: &mut AnyConnection, seat: Seat<'_>) -> Result<(), ChannelError> {
    let room = if seat.per_user {
        "(SELECT COUNT(DISTINCT user_id) FROM channel_members WHERE channel_id = $1)
             < (SELECT max_members FROM channels WHERE id = $1)
         OR EXISTS (SELECT 1 FROM channel_members WHERE channel_id = $1 AND user_id = $3)"
    } else {
        "(SELECT COUNT(*) FROM channel_members WHERE channel_id = $1)
             < (SELECT max_members FROM channels WHERE id = $1)"
    };
    let (id, socket_id) = (seat.channel, seat.socket);
    let inserted = sqlx::query(&format!(
        "INSERT INTO channel_members (channel_id, socket_id, user_id, username, joined_at, node_id)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE {room}
         ON CONFLICT (channel_id, socket_id) DO NOTHING"
    ))
    .bind(id)
    .bind(socket_id)
    .bind(seat.user)
    .bind(seat.username)
    .bind(now_millis())
    .bind(seat.node)
    .execute(&mut *conn)
    .await
    .map_err(failed)?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    let already: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM channel_members WHERE channel_id = $1 AND socket_id = $2",
    )
    .bind(id)
    .bind(socket_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(failed)?;
    if already > 0 {
        Ok(())
    } else {
        Err(ChannelError::Full)
    }
}
