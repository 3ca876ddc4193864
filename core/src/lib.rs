//! Core of [iostack](https://docs.rs/iostack): a typed framework for real-time Socket.IO servers on
//! [`socketioxide`], `tower` and `tokio`.
//!
//! An [`App`] has, per namespace, a **connect stack** (a `tower` service over [`ConnectRequest`]:
//! allowlists, authentication, connection logs) and an **event stack** (a `tower` service over
//! [`EventRequest`]: rate limits, statistics) in front of a [`Router`] of event handlers. The app's
//! stacks wrap every namespace; a namespace's own layers run inside them. Stacks are composed by
//! type; each namespace's own stack is boxed once, so one event costs one dynamic call into it.
//! [`Hooks`] run at init, connection,
//! disconnect and shutdown; an [`Adapter`] lets many nodes act as one.
//!
//! ```no_run
//! use iostack_core::{App, extract::{AckSender, Data, SocketRef}};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let app = App::builder(())
//!         .on("echo", async |Data(msg): Data<serde_json::Value>, ack: AckSender| {
//!             let _ = ack.send(&msg);
//!         })
//!         .on("join", async |socket: SocketRef, Data(room): Data<String>| socket.join(room))
//!         .build()
//!         .await?;
//!     app.serve(iostack_core::bind("127.0.0.1:3000").await?).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Behaviour worth knowing
//! - A connect-stack error reaches the client as `connect_error` with the error's `Display` text.
//! - An event whose arguments do not fit the handler, an unknown event, or a handler error is
//!   answered, never dropped: with an error ack `{"error": {"message"}}` if the client asked for an
//!   ack, else with an `error` event `{"message"}`.
//! - Each socket's events are handled one at a time, in arrival order; see
//!   [`AppBuilder::ordered_events`] to opt out.

mod adapter;
mod any_adapter;
mod app;
mod builder;
mod cluster;
mod connect;
mod connection_args;
#[cfg(feature = "content")]
pub mod content;
pub mod cors;
pub mod delivery;
mod error;
mod event;
pub mod extract;
mod gate;
mod handler;
mod hooks;
mod identity;
mod io;
#[cfg(feature = "monitoring")]
pub mod monitoring;
mod namespace;
mod registry;
pub mod rooms;
mod router;
mod serve;
mod session;
mod shutdown;

pub use adapter::{
    Adapter, AdapterError, BoxFuture, Health, IoState, NamespaceInit, is_remote_broadcast,
    redact_url,
};
pub use any_adapter::{AnyAckStream, AnyAdapter, AnyState, NamespaceReady};
pub use app::App;
pub use builder::AppBuilder;
pub use cluster::{IoError, KICKED_EVENT, SERVER_DISCONNECT_EVENT};
pub use connect::{Admit, ConnectRequest};
pub use connection_args::FromConnection;
pub use error::{BoxError, BuildError, EventError};
pub use event::{ERROR_EVENT, EventRequest};
pub use extract::{AppContext, FromEvent, State};
pub use gate::EventGate;
pub use handler::{BoxedHandler, EventHandler, IntoEventResult, Reply};
pub use hooks::{HookError, HookRoutes, Hooks, InitContext};
pub use identity::{Identity, IdentityData};
pub use io::Io;
pub use namespace::NamespaceBuilder;
#[doc(hidden)]
pub use namespace::NamespaceSpec;
pub use registry::{ConnectionInfo, ConnectionRegistry};
pub use router::Router;
pub use serve::{
    DEFAULT_BACKLOG, InterruptedShutdown, ServerLimits, bind, bind_with_backlog, shutdown_signal,
};
#[doc(hidden)]
pub use session::EventOptions;
pub use shutdown::{SHUTDOWN_EVENT, ShutdownOptions};

pub use socketioxide;
pub use socketioxide::BroadcastError;

#[doc(hidden)]
pub use async_trait::async_trait;
