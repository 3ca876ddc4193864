//! [`ContentType`]: one kind of app data, who may read it, and what never leaves the server.

use serde_json::Value;

/// Fields removed from every published entry unless [`ContentType::keep_fields`] says otherwise:
/// credentials and one-time tokens.
pub const SENSITIVE_FIELDS: &[&str] = &["password", "resetPasswordToken", "confirmationToken"];

/// What happened to an entry; the event a client receives is `{prefix}:{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAction {
    /// A new entry: `article:create`.
    Create,
    /// A changed entry: `article:update`.
    Update,
    /// A removed entry: `article:delete`.
    Delete,
    /// An entry made public: `article:publish`.
    Publish,
    /// An entry withdrawn: `article:unpublish`.
    Unpublish,
}

impl ContentAction {
    /// The action's name in event names: `create`, `update`, `delete`, `publish`, `unpublish`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Publish => "publish",
            Self::Unpublish => "unpublish",
        }
    }
}

/// Who receives a content type's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readers {
    /// Every client of the namespace.
    Everyone,
    /// Clients whose identity has one of these roles (rooms `role-{role}`).
    Roles(Vec<String>),
}

/// A registered kind of app data, e.g. `api::article.article`, whose changes are pushed to the
/// clients allowed to read it.
///
/// By default nobody but the entry's owner (see [`owned_by`](Self::owned_by)) receives its events;
/// [`readable_by`](Self::readable_by) adds roles, [`public`](Self::public) opens it to everyone.
///
/// ```
/// use iostack_core::content::ContentType;
///
/// let articles = ContentType::new("api::article.article")   // events `article:create`, ...
///     .readable_by(["editor", "admin"])                     // sockets in `role-editor`, `role-admin`
///     .owned_by("/author/id")                               // and the author's sockets (`user-{id}`)
///     .omit(["internalNotes"]);                             // never sent, at any depth
/// assert_eq!(articles.event_name(iostack_core::content::ContentAction::Create), "article:create");
/// ```
#[derive(Debug, Clone)]
pub struct ContentType {
    pub(crate) uid: String,
    prefix: String,
    pub(crate) readers: Readers,
    pub(crate) owner: Option<String>,
    pub(crate) omitted: Vec<String>,
}

impl ContentType {
    /// A content type named by `uid`; its event prefix is the part after the last `.` or `::`
    /// (`api::article.article` → `article`). It omits [`SENSITIVE_FIELDS`].
    pub fn new(uid: impl Into<String>) -> Self {
        let uid = uid.into();
        let prefix = uid
            .rsplit(['.', ':'])
            .find(|part| !part.is_empty())
            .unwrap_or(&uid)
            .to_owned();
        Self {
            uid,
            prefix,
            readers: Readers::Roles(Vec::new()),
            owner: None,
            omitted: SENSITIVE_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// Events are named `{prefix}:{action}` instead.
    pub fn event_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Clients with any of `roles` receive every entry's events.
    pub fn readable_by<R: Into<String>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        let added = roles.into_iter().map(Into::into);
        match &mut self.readers {
            Readers::Roles(existing) => existing.extend(added),
            Readers::Everyone => {}
        }
        self
    }

    /// Every client of the namespace receives every entry's events.
    pub fn public(mut self) -> Self {
        self.readers = Readers::Everyone;
        self
    }

    /// The user whose id is at `pointer` in the entry (a JSON pointer such as `/authorId`;
    /// a string or a number) receives that entry's events, whatever their roles.
    pub fn owned_by(mut self, pointer: impl Into<String>) -> Self {
        self.owner = Some(pointer.into());
        self
    }

    /// Fields removed from every entry before it is sent, at any depth, besides [`SENSITIVE_FIELDS`].
    pub fn omit<F: Into<String>>(mut self, fields: impl IntoIterator<Item = F>) -> Self {
        self.omitted.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Sends the [`SENSITIVE_FIELDS`] too (only the fields given to [`omit`](Self::omit) are removed).
    pub fn keep_fields(mut self) -> Self {
        self.omitted
            .retain(|f| !SENSITIVE_FIELDS.contains(&f.as_str()));
        self
    }

    /// The registered uid, e.g. `api::article.article`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The event clients receive for `action`, e.g. `article:create`.
    pub fn event_name(&self, action: ContentAction) -> String {
        format!("{}:{}", self.prefix, action.as_str())
    }

    /// The owner's user id in `entry`, if the type has an owner and the entry names one.
    pub(crate) fn owner_of(&self, entry: &Value) -> Option<String> {
        match entry.pointer(self.owner.as_deref()?)? {
            Value::String(id) if !id.is_empty() => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        }
    }

    /// `entry` without the omitted fields, at any depth.
    pub(crate) fn sanitize(&self, mut entry: Value) -> Value {
        strip(&mut entry, &self.omitted);
        entry
    }
}

fn strip(value: &mut Value, fields: &[String]) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !fields.iter().any(|f| f == key));
            map.values_mut().for_each(|v| strip(v, fields));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, fields)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prefix_comes_from_the_uid() {
        assert_eq!(
            ContentType::new("api::article.article").event_name(ContentAction::Publish),
            "article:publish"
        );
        assert_eq!(
            ContentType::new("plugin::users-permissions.user").event_name(ContentAction::Delete),
            "user:delete"
        );
        assert_eq!(
            ContentType::new("note").event_name(ContentAction::Update),
            "note:update"
        );
        assert_eq!(
            ContentType::new("api::a.b")
                .event_prefix("post")
                .event_name(ContentAction::Create),
            "post:create"
        );
    }

    #[test]
    fn sensitive_and_omitted_fields_go_at_any_depth() {
        let ct = ContentType::new("api::user.user").omit(["secret"]);
        let entry = json!({
            "id": 1, "password": "x", "secret": "y",
            "author": { "name": "a", "resetPasswordToken": "t" },
            "tags": [{ "secret": 1, "name": "t" }]
        });
        assert_eq!(
            ct.sanitize(entry),
            json!({ "id": 1, "author": { "name": "a" }, "tags": [{ "name": "t" }] })
        );
        let kept = ContentType::new("api::user.user").keep_fields();
        assert_eq!(
            kept.sanitize(json!({ "password": "x" })),
            json!({ "password": "x" })
        );
    }

    #[test]
    fn owner_is_read_through_a_json_pointer() {
        let ct = ContentType::new("api::a.a").owned_by("/author/id");
        assert_eq!(
            ct.owner_of(&json!({ "author": { "id": 7 } })).as_deref(),
            Some("7")
        );
        assert_eq!(
            ct.owner_of(&json!({ "author": { "id": "u7" } })).as_deref(),
            Some("u7")
        );
        assert_eq!(ct.owner_of(&json!({ "author": { "id": "" } })), None);
        assert_eq!(ct.owner_of(&json!({ "author": null })), None);
        assert_eq!(
            ContentType::new("api::a.a").owner_of(&json!({ "id": 1 })),
            None
        );
    }

    #[test]
    fn public_wins_over_roles() {
        let ct = ContentType::new("api::a.a").public().readable_by(["x"]);
        assert_eq!(ct.readers, Readers::Everyone);
    }
}
