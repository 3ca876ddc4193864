//! Errors of authentication: what the client reads, and what verifiers report.

/// Why a connection was refused; the `Display` is the client's `connect_error` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in `auth.token` nor in an `Authorization: Bearer` header.
    #[error("Authentication required")]
    MissingToken,
    /// The token is malformed, forged, expired or signed with another algorithm.
    #[error("Invalid token")]
    InvalidToken,
    /// The verifier could not decide (e.g. its store is down).
    #[error("Authentication failed")]
    Failed,
    /// The identity lacks the required role; the text is the configured message.
    #[error("{0}")]
    Forbidden(String),
}

/// What a [`Verifier`](super::Verifier) reports; the text goes to the logs, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The credential is not valid.
    #[error("invalid credential: {0}")]
    Invalid(String),
    /// The verifier could not decide.
    #[error("verifier unavailable: {0}")]
    Unavailable(String),
}
