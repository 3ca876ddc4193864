//! Presence, entity subscriptions and per-subscriber permissions for
//! [iostack](https://docs.rs/iostack), cluster-wide through the adapter.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_presence::Presence;
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let presence = Presence::new().heartbeat(Duration::from_secs(5));
//! let app = App::builder(())
//!     // an auth layer attaching an `Identity` goes here: presence tracks authenticated sockets
//!     .hooks(presence.clone())
//!     .build()
//!     .await?;
//! let who = presence.online().await?; // every user online on any node
//! # let _ = (app, who); Ok(()) }
//! ```
//!
//! # Presence
//! A user is online while any socket of theirs is connected on any node; several tabs count once.
//! Clients use:
//! - `presence:subscribe` (optionally `{room}`), ack: the online users. The socket then hears
//!   `presence:online {userId, username}` and `presence:offline {userId}` of every user (or of the
//!   members of `room`, as the user's first socket had joined it).
//! - `presence:list`, ack: `[{userId, username}]`.
//! - `presence:view {entry}`, ack `{entry, users}`: marks the user as viewing (or typing in) `entry`
//!   and subscribes the socket to `presence:viewing {entry, users}`. A view ends with
//!   `presence:leave {entry}`, the socket's disconnect, or after
//!   [`idle_after`](Presence::idle_after) without a new `presence:view`.
//!
//! Each socket joins a room naming its node and user; every node lists those rooms cluster-wide
//! each [`heartbeat`](Presence::heartbeat), so the users of a node that died go offline on the
//! others within one heartbeat plus the adapter's request timeout. `presence:offline` is
//! idempotent: after a node lost its last user, the sweep may announce one of them a second time.
//! Two first tabs of one user opening at the same instant on two nodes may both be announced,
//! and the sweep announces only users it listed at least once (online for one heartbeat).
//!
//! # Entity subscriptions
//! [`Subscriptions`] serves `subscribe {type, id?, filter?}` (ack `{subscription}`, or an error
//! ack such as `Forbidden: no read access to `page`` or a [`FilterError`] naming the place) and
//! `unsubscribe` (the same spec, or `{subscription}`). Your code calls
//! [`Subscriptions::publish`] on every change; the subscriber hears `create`, `update` or `delete`
//! `{type, data}` when the type, the entry's `id` and the [`Filter`] match.
//!
//! # Per-subscriber permissions
//! Before each delivery the publishing node asks a [`Policy`] (the default is [`RolePolicy`]: read
//! rules per role and type, entry filters, hidden fields) what each subscriber's role set may
//! read, through [`Permissions`], which caches decisions per role set and drops them when the
//! policy changes: a change applies to the next message. Fields a subscriber may not read are
//! removed from its copy; an entry it may not read (deletes included) is never mentioned to it.
//!
//! A subscription is a room whose name holds its spec and its role set, so one publish is one
//! cluster-wide room listing and one broadcast per role set, whatever the number of subscribers
//! (the `fanout` bench measures it against a plain `io.emit`). The node that publishes decides,
//! so every node must run the same policy.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_presence::{Action, Filter, Permissions, RolePolicy, Subscriptions};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = RolePolicy::new()
//!     .read("editor", "article")
//!     .read_where("reader", "article", Filter::parse(&json!({ "status": "published" }))?)
//!     .hide("reader", "article", ["internalNotes"]);
//! let subscriptions = Subscriptions::new(Permissions::new(policy.clone()));
//! let app = App::builder(()).hooks(subscriptions.clone()).build().await?;
//! let article = json!({ "id": 3, "status": "published", "title": "Hi", "internalNotes": "…" });
//! subscriptions.publish("article", Action::Update, &article).await?;
//! policy.hide("reader", "article", ["title"]); // the next publish follows it
//! # let _ = app; Ok(()) }
//! ```

pub mod filter;
pub mod permission;
mod presence;
mod presence_routes;
pub mod rooms;
mod subscription_routes;
mod subscriptions;
mod sweep;
mod viewing;

pub use filter::{Filter, FilterError};
pub use permission::{Action, Decision, Fields, Grant, Permissions, Policy, RolePolicy};
pub use presence::{OFFLINE_EVENT, ONLINE_EVENT, OnlineUser, Presence, VIEWING_EVENT};
pub use subscriptions::{MAX_SUBSCRIPTIONS_PER_SOCKET, Published, Subscriptions};

/// Why a presence or subscription request failed; the text is what the client reads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The hooks were not registered with an app, or the app is not built yet.
    #[error("presence is not running")]
    NotStarted,
    /// The namespace presence tracks does not exist.
    #[error("no namespace `{0}`")]
    UnknownNamespace(String),
    /// The socket has no identity.
    #[error("Authentication required")]
    Unauthenticated,
    /// `presence:view` and `presence:leave` need `{entry: string}`.
    #[error("expected {{entry: string}}")]
    InvalidEntry,
    /// A `subscribe` or `unsubscribe` request was malformed (the text says how).
    #[error("{0}")]
    Subscription(String),
    /// The subscriber may not read this content type.
    #[error("Forbidden: no read access to `{0}`")]
    Forbidden(String),
    /// The adapter could not reach the other nodes.
    #[error("cluster request failed: {0}")]
    Adapter(String),
}

impl PresenceError {
    fn adapter(e: impl std::fmt::Display) -> Self {
        Self::Adapter(e.to_string())
    }
}
