//! The authenticated principal of a connection.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who is behind a socket, once a connect layer has authenticated it (the JS `socket.data.user`).
///
/// A connect layer attaches it with [`ConnectRequest::set_identity`](crate::ConnectRequest::set_identity);
/// handlers receive it through the [`Identity`] or `Option<Identity>` extractors. Its fields are
/// those of [`IdentityData`], read and written through the identity itself.
///
/// Cheap to clone: clones share one copy of the data, so the socket, the connection registry and
/// every handler that extracts the identity hold the same bytes. Changing a field of a shared
/// identity copies it first (clone on write).
///
/// ```
/// use iostack_core::Identity;
///
/// let mut admin = Identity::new("42").with_username("ada").with_role("admin");
/// assert!(admin.has_role("admin"));
/// assert!(!admin.has_role("editor"));
///
/// let before = admin.clone();
/// admin.roles.push("editor".into());
/// assert_eq!(admin.roles, ["admin", "editor"]);
/// assert_eq!(before.roles, ["admin"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity(Arc<IdentityData>);

/// What an [`Identity`] holds; build one directly when a struct literal reads better than the
/// builder methods.
///
/// ```
/// use iostack_core::{Identity, IdentityData};
///
/// let user = Identity::from(IdentityData {
///     id: "7".into(),
///     roles: vec!["editor".into()],
///     ..IdentityData::default()
/// });
/// assert_eq!(user.id, "7");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityData {
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
        IdentityData {
            id: id.into(),
            ..IdentityData::default()
        }
        .into()
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

    /// The fields, to move them out (copied only when another clone shares them).
    pub fn into_data(self) -> IdentityData {
        Arc::unwrap_or_clone(self.0)
    }

    /// Whether the identity carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

impl From<IdentityData> for Identity {
    fn from(data: IdentityData) -> Self {
        Self(Arc::new(data))
    }
}

impl Deref for Identity {
    type Target = IdentityData;

    fn deref(&self) -> &IdentityData {
        &self.0
    }
}

impl DerefMut for Identity {
    /// Copies the data first when another clone shares it.
    fn deref_mut(&mut self) -> &mut IdentityData {
        Arc::make_mut(&mut self.0)
    }
}

impl Serialize for Identity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IdentityData::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_copy_until_written() {
        let a = Identity::new("1").with_role("admin");
        let b = a.clone();
        assert!(std::ptr::eq(&*a, &*b));
        let mut c = b.clone();
        c.username = Some("ada".into());
        assert!(!std::ptr::eq(&*a, &*c));
        assert_eq!(b.username, None);
    }

    #[test]
    fn serializes_as_its_fields() {
        let user = Identity::new("1").with_username("ada");
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "id": "1", "username": "ada", "roles": [], "claims": null })
        );
        assert_eq!(serde_json::from_value::<Identity>(json).unwrap(), user);
    }
}
