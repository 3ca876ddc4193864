//! Errors of building an app and of handling one event.

use std::fmt;

/// A boxed error, the error type that every stack is converted into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why [`AppBuilder::build`](crate::AppBuilder::build) failed; nothing is left listening.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The adapter could not be installed (its store is unreachable, its config is invalid...).
    #[error("adapter `{adapter}` failed to start: {source}")]
    Adapter {
        /// Name of the adapter.
        adapter: &'static str,
        /// The cause.
        source: crate::AdapterError,
    },
    /// A namespace could not be registered.
    #[error("namespace `{path}` could not be registered: {message}")]
    Namespace {
        /// The namespace path.
        path: String,
        /// The cause.
        message: String,
    },
    /// An init hook returned an error.
    #[error("init hook `{hook}` failed: {error}")]
    Init {
        /// Name of the hook that failed.
        hook: String,
        /// The hook's error.
        error: crate::HookError,
    },
    /// The builder was used in an order it cannot honour.
    #[error("invalid app configuration: {0}")]
    Config(String),
}

/// Why an event was not handled; its `Display` is what the client reads.
///
/// The client receives it as an error ack `{"error": {"message": ...}}` when it asked for an ack,
/// otherwise as an `error` event `{"message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// No handler is registered for the event and there is no fallback.
    #[error("Unknown event `{0}`")]
    UnknownEvent(String),
    /// The event's arguments did not fit the handler's `Data<T>`.
    #[error("Invalid payload for `{event}`: {reason}")]
    InvalidPayload {
        /// The event name.
        event: String,
        /// What did not fit.
        reason: String,
    },
    /// The handler needs an [`Identity`](crate::Identity) and the socket has none.
    #[error("Authentication required")]
    Unauthenticated,
    /// The socket sent events faster than they can be handled and its queue is full.
    #[error("Too many pending events")]
    Overloaded,
    /// A handler returned an error; the text is the handler's.
    #[error("{0}")]
    Handler(String),
    /// A handler returned the `BroadcastError` of an emit that full socket buffers refused for
    /// this many recipients; counted in the app's [`Deliveries`](crate::delivery::Deliveries).
    #[error("Not delivered to {0} recipients")]
    NotDelivered(usize),
}

impl EventError {
    /// An error whose text is `message`, for handlers.
    pub fn handler(message: impl fmt::Display) -> Self {
        Self::Handler(message.to_string())
    }
}
