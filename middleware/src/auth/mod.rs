//! Authentication for the connect stack: a token from the handshake, checked by a [`Verifier`].
//!
//! ```
//! use iostack_core::App;
//! use iostack_middleware::auth::{AuthLayer, JwtVerifier};
//!
//! let builder = App::builder(())
//!     .on_connect(AuthLayer::new(JwtVerifier::hs256("change me")))
//!     .namespace("/admin", |ns| {
//!         ns.on_connect(AuthLayer::new(JwtVerifier::hs256("change me")).require_role("admin"))
//!     });
//! ```
//!
//! The token is read from the handshake's `auth.token` (`io(url, { auth: { token } })`), else from an
//! `Authorization: Bearer` header. What the client reads in `connect_error`:
//!
//! | situation | message |
//! |---|---|
//! | no token | `Authentication required` |
//! | malformed, forged, expired, not valid yet (`nbf`), wrong algorithm or `alg: none` | `Invalid token` |
//! | a time claim that is not a number between 0 and year 9999 (`exp`, `nbf`, `iat`) | `Invalid token` |
//! | the verifier could not decide (its store is down) | `Authentication failed` (details in the logs) |
//! | the identity lacks the required role | `Admin access required` for role `admin` (configurable) |
//!
//! The identity is attached to the socket. When the credential expires while the socket is
//! connected, the socket receives [`AUTH_EXPIRED_EVENT`] and is disconnected. The expiry timer
//! starts only once the layers inside [`AuthLayer`] have admitted the socket, and ends with the
//! socket, or with the request when an outer layer refuses it: no task outlives its socket.

mod claims;
mod error;
mod expiry;
mod jwt;
mod layer;
mod role;
mod token;

pub use error::{AuthError, VerifyError};
pub use jwt::{JwtKeyError, JwtVerifier};
pub use layer::{AUTH_EXPIRED_EVENT, Auth, AuthLayer};
pub use role::{RequireRole, RequireRoleLayer};
pub use token::extract_token;

use std::time::SystemTime;

use iostack_core::Identity;

/// What a [`Verifier`] learns from a valid credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Who the credential belongs to.
    pub identity: Identity,
    /// When the credential stops being valid, if it does.
    pub expires_at: Option<SystemTime>,
}

/// What a verifier may look at besides the token.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The namespace being joined.
    pub ns: &'a str,
    /// The TCP peer address.
    pub peer: Option<std::net::SocketAddr>,
    /// The handshake headers.
    pub headers: &'a http::HeaderMap,
}

/// Checks a token: JWTs with [`JwtVerifier`], or your own (session store, API keys...).
///
/// ```
/// use iostack_core::Identity;
/// use iostack_middleware::auth::{Verified, Verifier, VerifyContext, VerifyError};
///
/// struct ApiKeys;
///
/// #[async_trait::async_trait]
/// impl Verifier for ApiKeys {
///     async fn verify(&self, token: &str, _: VerifyContext<'_>) -> Result<Verified, VerifyError> {
///         match token {
///             "key-1" => Ok(Verified { identity: Identity::new("service-1"), expires_at: None }),
///             _ => Err(VerifyError::Invalid("unknown api key".into())),
///         }
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Verifier: Send + Sync + 'static {
    /// Verifies `token`: [`VerifyError::Invalid`] for a bad credential, [`VerifyError::Unavailable`]
    /// when the verifier cannot decide.
    async fn verify(&self, token: &str, cx: VerifyContext<'_>) -> Result<Verified, VerifyError>;
}
