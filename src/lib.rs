//! # iostack
//!
//! A typed, tested framework for real-time Socket.IO servers, built on `socketioxide`, `tower` and
//! `tokio`, for the official Socket.IO clients.
//!
//! ```no_run
//! use iostack::{App, extract::{AckSender, Data}};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let app = App::builder(())
//!         .on("echo", async |Data(msg): Data<serde_json::Value>, ack: AckSender| {
//!             let _ = ack.send(&msg);
//!         })
//!         .build()
//!         .await?;
//!     app.serve(iostack::bind("127.0.0.1:3000").await?).await?;
//!     Ok(())
//! }
//! ```
//!
//! | crate | what it is | feature |
//! |---|---|---|
//! | [`iostack_core`] | App builder, stacks, hooks, `Adapter` trait, `Io` handle | always |
//! | [`memory`] | in-process adapter (the default) | always |
//! | [`middleware`] | auth, connection log, IP allowlist, rate limit, event stats layers | always |
//! | `redis` | Redis adapter: many nodes act as one | `redis` |
//! | `mongo` | MongoDB adapter: many nodes act as one | `mongo` |
//! | [`hooks`] | the `#[hooks]` attribute | `macros` (default) |
//! | `admin_ui` | server side of the official Socket.IO Admin UI | `admin-ui` |
//! | `channels` | password channels, member limits, connection log (SQLite/PostgreSQL) | `channels` |
//! | `testing` | test server and clients with bounded waits | `testing` |

pub use iostack_core::{
    Adapter, AdapterError, Admit, AnyAdapter, App, AppBuilder, AppContext, BoxError, BoxFuture,
    BroadcastError, BuildError, ConnectRequest, ConnectionInfo, ConnectionRegistry, ERROR_EVENT,
    EventError, EventGate, EventHandler, EventRequest, FromConnection, FromEvent, Health,
    HookError, HookRoutes, Hooks, Identity, IdentityData, InitContext, InterruptedShutdown,
    IntoEventResult, Io, IoError, KICKED_EVENT, NamespaceBuilder, Reply, Router,
    SERVER_DISCONNECT_EVENT, SHUTDOWN_EVENT, ServerLimits, ShutdownOptions, State, bind,
    bind_with_backlog, cors, delivery, extract, shutdown_signal, socketioxide,
};

#[doc(hidden)]
pub use iostack_core::{NamespaceSpec, async_trait};

#[cfg(feature = "content")]
pub use iostack_core::content;
#[cfg(feature = "monitoring")]
pub use iostack_core::monitoring;

/// Rooms: the ones core keeps for every identity (`user-{id}`, `role-{role}`), the `get-rooms`
/// handler, and (feature `rooms`) the layer that joins rooms from claims.
pub mod rooms {
    pub use iostack_core::rooms::*;
    #[cfg(feature = "rooms")]
    pub use iostack_middleware::rooms::{AutoJoin, AutoJoinLayer, RoomRules};
}

/// Turns an annotated `impl` block into a [`Hooks`] implementation (crate `iostack-macros`).
///
/// ```
/// use iostack::{App, HookError, Identity, InitContext, extract::{AckSender, Data, SocketRef}};
///
/// #[derive(Clone, Default)]
/// struct AppState;
///
/// struct Chat;
///
/// #[iostack::hooks]
/// impl Chat {
///     async fn init(&self, cx: &mut InitContext<AppState>) -> Result<(), HookError> {
///         tracing::info!(adapter = cx.io.adapter_name(), "chat ready");
///         Ok(())
///     }
///
///     #[on_connection(ns = "/chat")]
///     async fn joined(&self, socket: SocketRef) {
///         let _ = socket.emit("welcome", &"hi");
///     }
///
///     #[event("echo", ns = "/chat")]
///     async fn echo(&self, Data(v): Data<serde_json::Value>, ack: AckSender) {
///         let _ = ack.send(&v);
///     }
/// }
///
/// # async fn run() -> Result<(), iostack::BuildError> {
/// let app = App::builder(AppState)
///     .namespace("/chat", |ns| ns) // hooks act in declared namespaces only
///     .hooks(Chat)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "macros")]
pub use iostack_macros::hooks;

/// The in-process adapter (crate `iostack-memory`).
pub use iostack_memory as memory;

/// tower layers: auth, connection logging, IP allowlist, rate limiting, event statistics
/// (crate `iostack-middleware`).
pub use iostack_middleware as middleware;

/// The Redis adapter (crate `iostack-redis`).
#[cfg(feature = "redis")]
pub use iostack_redis as redis;

/// The Node-compatible Redis adapter (crate `iostack-redis-node`): join a Node.js socket.io cluster.
#[cfg(feature = "redis-node")]
pub use iostack_redis_node as redis_node;

/// The MongoDB adapter (crate `iostack-mongo`).
#[cfg(feature = "mongo")]
pub use iostack_mongo as mongo;

/// The server side of the official Socket.IO Admin UI (crate `iostack-admin-ui`).
#[cfg(feature = "admin-ui")]
pub use iostack_admin_ui as admin_ui;

/// Password channels with member limits and a connection log (crate `iostack-channels`).
#[cfg(feature = "channels")]
pub use iostack_channels as channels;

/// Presence, entity subscriptions and per-subscriber permissions (crate `iostack-presence`).
#[cfg(feature = "presence")]
pub use iostack_presence as presence;

/// jemalloc with its background purge thread, for a server binary's `#[global_allocator]`: memory
/// freed when clients leave goes back to the system within seconds, where glibc's malloc keeps the
/// high-water mark (see `benches/README.md`).
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: iostack::Jemalloc = iostack::Jemalloc;
/// # fn main() {}
/// ```
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;

/// Test support (crate `iostack-testing`): serve an app on a free port, drive it with real clients.
#[cfg(feature = "testing")]
pub use iostack_testing as testing;

#[cfg(feature = "logging")]
pub mod logging;
