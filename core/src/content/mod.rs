//! Content events: changes to app data (create, update, delete, publish, unpublish) pushed to the
//! clients allowed to read them, on every node.
//!
//! Register each [`ContentType`] once, keep the [`ContentEvents`] in your state, and publish from
//! wherever the data changes (an HTTP handler, a job, an event handler):
//!
//! ```no_run
//! use iostack_core::{Io, content::{ContentAction, ContentEvents, ContentType}};
//!
//! # async fn run(io: Io) -> Result<(), iostack_core::content::ContentError> {
//! let content = ContentEvents::new()
//!     .register(ContentType::new("api::article.article").readable_by(["editor"]).owned_by("/authorId"));
//! let article = serde_json::json!({ "id": 3, "title": "Hi", "authorId": "42", "password": "never sent" });
//! // `article:create {data: {id, title, authorId}}` reaches editors and user 42, on every node.
//! content.publish(&io, "api::article.article", ContentAction::Create, &article).await?;
//! # Ok(()) }
//! ```
//!
//! Readers are found through the rooms core keeps for every identity ([`rooms`](crate::rooms):
//! `role-{role}`, `user-{id}`), so delivery is cluster-wide through the adapter and a socket in
//! several of the rooms receives an event once.

mod content_type;

use std::{collections::HashMap, sync::Arc};

use serde::Serialize;
use serde_json::json;

pub use content_type::{ContentAction, ContentType, SENSITIVE_FIELDS};

use crate::{
    Io,
    rooms::{role_room, user_room},
};
use content_type::Readers;

/// Why a content event was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// No content type with this uid was registered.
    #[error("unknown content type `{0}`")]
    UnknownType(String),
    /// The entry could not be turned into JSON.
    #[error("invalid entry for `{uid}`: {reason}")]
    InvalidEntry {
        /// The content type's uid.
        uid: String,
        /// What serialization said.
        reason: String,
    },
    /// The namespace content events go to does not exist on this server.
    #[error("no namespace `{0}` for content events")]
    UnknownNamespace(String),
    /// The adapter or a socket refused the message (counted in
    /// [`Io::deliveries`] when buffers were full).
    #[error("content event not delivered: {0}")]
    Delivery(String),
}

/// The registered content types and the namespace their events go to (`/` by default);
/// cheap to clone.
#[derive(Debug, Clone)]
pub struct ContentEvents {
    types: Arc<HashMap<String, ContentType>>,
    namespace: Arc<str>,
}

impl Default for ContentEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentEvents {
    /// No content types; events go to the `/` namespace.
    pub fn new() -> Self {
        Self {
            types: Arc::default(),
            namespace: Arc::from("/"),
        }
    }

    /// Events go to the clients of namespace `path` instead.
    pub fn namespace(mut self, path: impl AsRef<str>) -> Self {
        self.namespace = Arc::from(path.as_ref());
        self
    }

    /// Registers `content_type` (replacing one with the same uid).
    pub fn register(mut self, content_type: ContentType) -> Self {
        Arc::make_mut(&mut self.types).insert(content_type.uid.clone(), content_type);
        self
    }

    /// The content type registered as `uid`.
    pub fn get(&self, uid: &str) -> Option<&ContentType> {
        self.types.get(uid)
    }

    /// Pushes `{prefix}:{action}` with `{"data": entry}` (sensitive and omitted fields removed) to
    /// every client allowed to read `uid` and this entry, on every node.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        io: &Io,
        uid: &str,
        action: ContentAction,
        entry: &T,
    ) -> Result<(), ContentError> {
        let content_type = self
            .get(uid)
            .ok_or_else(|| ContentError::UnknownType(uid.to_owned()))?;
        let entry = serde_json::to_value(entry).map_err(|e| ContentError::InvalidEntry {
            uid: uid.to_owned(),
            reason: e.to_string(),
        })?;
        let owner = content_type.owner_of(&entry);
        let event = content_type.event_name(action);
        let payload = json!({ "data": content_type.sanitize(entry) });
        let namespace = io
            .of(&*self.namespace)
            .ok_or_else(|| ContentError::UnknownNamespace(self.namespace.to_string()))?;
        let sent = match &content_type.readers {
            Readers::Everyone => namespace.emit(&event, &payload).await,
            Readers::Roles(roles) => {
                let rooms: Vec<String> = roles
                    .iter()
                    .map(|role| role_room(role))
                    .chain(owner.as_deref().map(user_room))
                    .collect();
                if rooms.is_empty() {
                    tracing::debug!(%event, "content event has no reader");
                    return Ok(());
                }
                namespace.to(rooms).emit(&event, &payload).await
            }
        };
        sent.map_err(|e| ContentError::Delivery(e.to_string()))
    }
}
