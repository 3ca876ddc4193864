//! The authenticated principal of a connection.

use serde::{Deserialize, Serialize};

/// Who is behind a socket, once a connect layer has authenticated it (the JS `socket.data.user`).
///
/// A connect layer attaches it with [`ConnectRequest::set_identity`](crate::ConnectRequest::set_identity);
/// handlers receive it through the [`Identity`] or `Option<Identity>` extractors.
///
/// ```
/// use iostack_core::Identity;
///
/// let admin = Identity::new("42").with_username("ada").with_role("admin");
/// assert!(admin.has_role("admin"));
/// assert!(!admin.has_role("editor"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable user id (the JWT `sub`, a database key...).
    pub id: String,
    /// Display name, when known.
    #[serde(default)]
    pub username: Option<String>,
    /// Roles used by role checks and role rooms.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Every other claim of the credential, as JSON.
    #[serde(default)]
    pub claims: serde_json::Value,
}

impl Identity {
    /// An identity with this id and nothing else.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the display name.
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Adds a role.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Sets the remaining claims.
    pub fn with_claims(mut self, claims: serde_json::Value) -> Self {
        self.claims = claims;
        self
    }

    /// Whether the identity carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
