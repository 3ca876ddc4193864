//! Who may open the Admin UI namespace: [`AdminAuth`] and the connect layer that checks it.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{
        SaltString,
        rand_core::{OsRng, RngCore},
    },
};
use iostack_core::{BoxError, ConnectRequest};
use tower::filter::{AsyncFilterLayer, AsyncPredicate};

/// How long a session id given to the UI after a login stays valid.
const SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Sessions kept at most; the oldest goes first.
const MAX_SESSIONS: usize = 1024;

/// The error the UI shows on a refused login (the official server's exact text, which the UI
/// recognises to reopen its login form).
#[derive(Debug, thiserror::Error)]
#[error("invalid credentials")]
pub struct InvalidCredentials;

/// A password hash that is not a PHC string argon2 can read.
#[derive(Debug, thiserror::Error)]
#[error("the Admin UI password must be an argon2 hash in PHC format ($argon2id$...): {0}")]
pub struct InvalidPasswordHash(String);

/// Who may open the Admin UI namespace.
#[derive(Clone)]
pub struct AdminAuth(Mode);

#[derive(Clone)]
enum Mode {
    Disabled,
    Basic {
        username: String,
        password_hash: Arc<str>,
    },
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Mode::Disabled => f.write_str("AdminAuth::disabled"),
            Mode::Basic { username, .. } => f
                .debug_struct("AdminAuth::basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl AdminAuth {
    /// The UI's login form: `username` and a password checked against `password_hash`, an argon2
    /// PHC string (make one with [`AdminAuth::hash_password`]). A login answers with a session
    /// id that the UI uses to reconnect.
    pub fn basic(
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Result<Self, InvalidPasswordHash> {
        let password_hash = password_hash.into();
        PasswordHash::new(&password_hash).map_err(|e| InvalidPasswordHash(e.to_string()))?;
        Ok(Self(Mode::Basic {
            username: username.into(),
            password_hash: password_hash.into(),
        }))
    }

    /// No login at all: anyone who reaches the namespace administers the server. Only behind
    /// another check (an IP allowlist, a private network).
    pub fn disabled() -> Self {
        Self(Mode::Disabled)
    }

    /// Hashes `password` with argon2id and a random salt, for [`AdminAuth::basic`].
    /// CPU-heavy: call it at start-up or in `spawn_blocking`.
    pub fn hash_password(password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 with default parameters hashes any password")
            .to_string()
    }

    pub(crate) fn is_disabled(&self) -> bool {
        matches!(self.0, Mode::Disabled)
    }
}

/// The sessions handed out after a login, bounded and expiring.
#[derive(Clone, Default)]
pub(crate) struct Sessions(Arc<Mutex<HashMap<String, Instant>>>);

impl Sessions {
    fn create(&self) -> String {
        let id = format!("{:016x}{:016x}", OsRng.next_u64(), OsRng.next_u64());
        let mut sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, created| now.duration_since(*created) < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, created)| **created)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), now);
        id
    }

    fn is_valid(&self, id: &str) -> bool {
        let sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(id)
            .is_some_and(|created| created.elapsed() < SESSION_TTL)
    }
}

/// A session id made by a login, to send to the socket once it is admitted.
#[derive(Clone, Debug)]
pub(crate) struct NewSession(pub(crate) String);

/// The connect check of the Admin UI namespace: [`AdminAuth`], and the sessions of past logins.
/// [`AdminUi::install`](crate::AdminUi::install) puts it in place.
#[derive(Clone)]
pub struct AdminLogin {
    auth: AdminAuth,
    sessions: Sessions,
}

impl AdminLogin {
    pub(crate) fn layer(auth: AdminAuth) -> AsyncFilterLayer<Self> {
        AsyncFilterLayer::new(Self {
            auth,
            sessions: Sessions::default(),
        })
    }
}

impl AsyncPredicate<ConnectRequest> for AdminLogin {
    type Future = iostack_core::BoxFuture<'static, Result<ConnectRequest, BoxError>>;
    type Request = ConnectRequest;

    fn check(&mut self, request: ConnectRequest) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let Mode::Basic {
                username,
                password_hash,
            } = &this.auth.0
            else {
                return Ok(request);
            };
            let auth = request.auth();
            if let Some(session) = auth.get("sessionId").and_then(|v| v.as_str())
                && this.sessions.is_valid(session)
            {
                return Ok(request);
            }
            let given_user = auth.get("username").and_then(|v| v.as_str());
            let given_password = auth
                .get("password")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let (Some(given_user), Some(password)) = (given_user, given_password) else {
                return Err(InvalidCredentials.into());
            };
            let user_matches = given_user == username;
            let hash = password_hash.clone();
            // Hash even for an unknown user, so that timing does not tell which part was wrong.
            let password_matches = tokio::task::spawn_blocking(move || {
                PasswordHash::new(&hash).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await
            .unwrap_or(false);
            if user_matches && password_matches {
                let session = this.sessions.create();
                request
                    .socket()
                    .extensions
                    .insert(NewSession(session.clone()));
                Ok(request)
            } else {
                tracing::warn!(
                    ns = request.ns(),
                    peer = ?request.peer(),
                    "Admin UI: refused a login with invalid credentials"
                );
                Err(InvalidCredentials.into())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_refuses_a_hash_that_is_not_phc() {
        let err = AdminAuth::basic("admin", "plain-password").unwrap_err();
        assert!(err.to_string().contains("argon2"), "{err}");
    }

    #[test]
    fn hashed_password_verifies_and_others_do_not() {
        let hash = AdminAuth::hash_password("s3cret");
        assert!(AdminAuth::basic("admin", hash.clone()).is_ok());
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }

    #[test]
    fn sessions_are_bounded_and_checked() {
        let sessions = Sessions::default();
        let first = sessions.create();
        assert!(sessions.is_valid(&first));
        assert!(!sessions.is_valid("nope"));
        for _ in 0..MAX_SESSIONS {
            sessions.create();
        }
        assert!(!sessions.is_valid(&first), "oldest session evicted");
        assert_eq!(sessions.0.lock().unwrap().len(), MAX_SESSIONS);
    }
}
