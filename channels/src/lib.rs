//! Password-protected channels with member limits, and a connection log, for
//! [iostack](https://docs.rs/iostack) apps, stored through `sqlx`: an embedded SQLite file by default,
//! PostgreSQL when `DATABASE_URL` says so (shared by every node, so member counts are cluster-wide).
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_channels::{ChannelStore, Channels, Database, NewChannel};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::from_env().await?; // migrations run here
//! let store = ChannelStore::new(db);
//! store.create(NewChannel { id: "vip".into(), name: "VIP".into(), password: Some("s3cret".into()), max_members: 10 }).await?;
//! let app = App::builder(()).hooks(Channels::new(store, "/")).build().await?;
//! # Ok(()) }
//! ```
//!
//! Clients send `join-channel {channelId, password}`; errors read exactly `Channel not found`,
//! `Invalid password`, `Channel is full` or `Failed to join channel` (an error ack, or an `error`
//! event). On success the others in the channel get `user:joined {userId, username}` and the joiner
//! `channel:joined {channelId, members}` (the id as sent, the member count; and an ack
//! `{ok, channelId, members, memberList}` if it asked).
//! `leave-channel {channelId}` leaves; disconnecting leaves every channel.
//!
//! Seats belong to the node that took them: a node's first join (or [`ChannelStore::recover`] at
//! startup) frees the seats a crashed node left (on SQLite at once, on PostgreSQL once its heartbeat
//! has been silent for three beats, or at once for a restart with the same
//! [`node_id`](ChannelStore::node_id)), and [`ChannelStore::release_node`] frees this node's seats
//! before it exits. [`ConnectionLogStore::flush`] likewise writes the connection log's queue.

mod connection_log;
mod database;
mod events;
mod seats;
mod store;

pub use connection_log::{
    ConnectionLogCounts, ConnectionLogStats, ConnectionLogStore, DEFAULT_QUEUE_CAPACITY,
    FlushTimeout,
};
pub use database::{Backend, DEFAULT_DATABASE_URL, Database, DatabaseError};
pub use events::{Channels, JOINED_EVENT, LEFT_EVENT, USER_JOINED_EVENT, channel_room};
pub use seats::HEARTBEAT;
pub use store::{Channel, ChannelStore, Member, NewChannel};

/// Why a join failed; the `Display` is exactly what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No channel has this id.
    #[error("Channel not found")]
    NotFound,
    /// The channel is private and the password does not match.
    #[error("Invalid password")]
    InvalidPassword,
    /// The channel has as many members as it may.
    #[error("Channel is full")]
    Full,
    /// The store failed; details are in the logs only.
    #[error("Failed to join channel")]
    Failed,
}
