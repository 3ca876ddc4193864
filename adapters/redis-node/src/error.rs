//! [`Error`]: why a cluster-wide operation failed.

use std::time::Duration;

/// Why a cluster-wide operation of the Node-compatible adapter failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis refused or did not answer a command.
    #[error("redis {command} failed: {cause}")]
    Redis {
        /// The command that failed.
        command: &'static str,
        /// What Redis or the connection said.
        cause: String,
    },
    /// Not every other node answered within the request timeout.
    #[error(
        "timeout reached while waiting for {what} responses: {got} of {expected} within {after:?}"
    )]
    Timeout {
        /// The request: `fetchSockets`, `allRooms`, `serverSideEmit`.
        what: &'static str,
        /// Responses received.
        got: usize,
        /// Responses expected (other nodes subscribed to the namespace).
        expected: usize,
        /// The request timeout.
        after: Duration,
    },
    /// The adapter was not installed in an app yet, or that namespace is unknown to it.
    #[error("the redis-node adapter is not installed (or namespace {0:?} is not served)")]
    NotInstalled(String),
    /// A payload could not be converted for the wire.
    #[error("cannot encode the payload: {0}")]
    Encode(String),
}

impl Error {
    pub(crate) fn redis(command: &'static str, e: redis::RedisError) -> Self {
        tracing::warn!("redis {command} failed: {e}");
        Self::Redis {
            command,
            cause: e.to_string(),
        }
    }
}

impl From<Error> for socketioxide_core::adapter::errors::AdapterError {
    fn from(e: Error) -> Self {
        Self(Box::new(e))
    }
}
