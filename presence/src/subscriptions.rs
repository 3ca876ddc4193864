//! [`Subscriptions`]: clients subscribe to a content type, an entry or a filtered query, and hear
//! of matching changes only, as their permissions allow.

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use iostack_core::{HookError, HookRoutes, Hooks, Identity, InitContext, Io, extract::SocketRef};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Action, Filter, Permissions, PresenceError};

const PREFIX: &str = "sub~";

/// How many subscriptions one socket may hold.
pub const MAX_SUBSCRIPTIONS_PER_SOCKET: usize = 32;

/// `subscribe` / `unsubscribe` payload: `{type, id?, filter?}` or `{subscription}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Spec {
    #[serde(rename = "type")]
    content_type: Option<String>,
    id: Option<Value>,
    filter: Option<Value>,
    subscription: Option<String>,
}

/// Subscription hooks: register with [`AppBuilder::hooks`](iostack_core::AppBuilder::hooks), keep
/// a clone, and [`publish`](Self::publish) every change. See the [crate docs](crate).
pub struct Subscriptions {
    inner: Arc<Inner>,
}

struct Inner {
    ns: String,
    permissions: Permissions,
    io: OnceLock<Io>,
}

impl Clone for Subscriptions {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// What one [`Subscriptions::publish`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Subscriptions (over all nodes) whose type, entry and filter matched.
    pub matched: usize,
    /// Of those, the ones whose subscribers may read the entry, and were sent it.
    pub delivered: usize,
    /// Broadcasts made: one per permission group.
    pub broadcasts: usize,
}

impl Subscriptions {
    /// Subscriptions in namespace `/`, delivered as `permissions` allow.
    pub fn new(permissions: Permissions) -> Self {
        Self::with(permissions, "/".into())
    }

    fn with(permissions: Permissions, ns: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                ns,
                permissions,
                io: OnceLock::new(),
            }),
        }
    }

    /// Serves namespace `ns` instead of `/`.
    pub fn namespace(self, ns: impl Into<String>) -> Self {
        Self::with(self.inner.permissions.clone(), ns.into())
    }

    /// The permissions checked before each delivery.
    pub fn permissions(&self) -> &Permissions {
        &self.inner.permissions
    }

    fn io(&self) -> Result<&Io, PresenceError> {
        self.inner.io.get().ok_or(PresenceError::NotStarted)
    }

    /// Sends `action` on `entry` (its `id` field identifies it) of `content_type` to every matching
    /// subscription on every node, each group of subscribers getting the fields it may read.
    ///
    /// One cluster-wide listing of subscriptions and one broadcast per permission group: no
    /// per-subscriber work, whatever the number of subscribers.
    pub async fn publish(
        &self,
        content_type: &str,
        action: Action,
        entry: &Value,
    ) -> Result<Published, PresenceError> {
        let io = self.io()?;
        let ops = io
            .of(&self.inner.ns)
            .ok_or_else(|| PresenceError::UnknownNamespace(self.inner.ns.clone()))?;
        let rooms = ops.clone().rooms().await.map_err(PresenceError::adapter)?;
        let mut groups: BTreeMap<Vec<String>, (Value, Vec<String>)> = BTreeMap::new();
        let mut report = Published::default();
        for room in rooms {
            let Some(sub) = parse_room(&room) else {
                continue;
            };
            if !sub.covers(content_type, entry) {
                continue;
            }
            report.matched += 1;
            if let Some((_, rooms)) = groups.get_mut(&sub.roles) {
                rooms.push(room.to_string());
                report.delivered += 1;
                continue;
            }
            let decision = self
                .inner
                .permissions
                .decide(&sub.roles, content_type, action);
            if let Some(data) = decision.project(entry) {
                report.delivered += 1;
                groups.insert(sub.roles, (data, vec![room.to_string()]));
            }
        }
        for (data, rooms) in groups.into_values() {
            report.broadcasts += 1;
            let payload = json!({ "type": content_type, "data": data });
            ops.clone()
                .to(rooms)
                .emit(action.event(), &payload)
                .await
                .map_err(PresenceError::adapter)?;
        }
        Ok(report)
    }

    pub(crate) fn subscribe(&self, socket: &SocketRef, spec: Spec) -> Result<Value, PresenceError> {
        let roles = roles_of(socket.extensions.get::<Identity>());
        let room = match spec.subscription {
            Some(room) if parse_room(&room).is_some_and(|s| s.roles == roles) => room,
            Some(_) => return Err(PresenceError::Subscription("unknown subscription".into())),
            None => {
                let content_type = spec.content_type.ok_or_else(|| {
                    PresenceError::Subscription("expected {type, id?, filter?}".into())
                })?;
                if let Some(filter) = &spec.filter {
                    Filter::parse(filter)
                        .map_err(|e| PresenceError::Subscription(e.to_string()))?;
                }
                let id = match spec.id {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(_) => {
                        return Err(PresenceError::Subscription(
                            "`id` must be a string or a number".into(),
                        ));
                    }
                };
                let decision = self
                    .inner
                    .permissions
                    .decide(&roles, &content_type, Action::Update);
                if !decision.allows_any() {
                    return Err(PresenceError::Forbidden(content_type));
                }
                room_name(&roles, &content_type, id.as_deref(), spec.filter.as_ref())
            }
        };
        let held = socket
            .rooms()
            .iter()
            .filter(|r| r.starts_with(PREFIX))
            .count();
        if held >= MAX_SUBSCRIPTIONS_PER_SOCKET && !socket.rooms().iter().any(|r| **r == *room) {
            return Err(PresenceError::Subscription(format!(
                "at most {MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection"
            )));
        }
        socket.join(room.clone());
        Ok(json!({ "subscription": room }))
    }

    pub(crate) fn unsubscribe(&self, socket: &SocketRef, spec: Spec) -> Value {
        let roles = roles_of(socket.extensions.get::<Identity>());
        let room = match (spec.subscription, spec.content_type) {
            (Some(room), _) => room,
            (None, Some(t)) => {
                let id = spec.id.and_then(|v| match v {
                    Value::String(s) => Some(s),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                room_name(&roles, &t, id.as_deref(), spec.filter.as_ref())
            }
            (None, None) => return json!({ "ok": false }),
        };
        let held = socket.rooms().iter().any(|r| **r == *room);
        socket.leave(room);
        json!({ "ok": held })
    }
}

#[async_trait::async_trait]
impl<S> Hooks<S> for Subscriptions
where
    S: Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "subscriptions"
    }

    fn routes(self: Arc<Self>, routes: &mut HookRoutes<S>) {
        crate::subscription_routes::add(&self, &self.inner.ns, routes);
    }

    async fn init(&self, cx: &mut InitContext<S>) -> Result<(), HookError> {
        if cx.io.of(&self.inner.ns).is_none() {
            return Err(HookError::new(PresenceError::UnknownNamespace(
                self.inner.ns.clone(),
            )));
        }
        let _ = self.inner.io.set(cx.io.clone());
        Ok(())
    }
}

fn roles_of(identity: Option<Identity>) -> Vec<String> {
    let mut roles = identity.map(|i| i.into_data().roles).unwrap_or_default();
    roles.sort();
    roles.dedup();
    roles
}

/// A subscription as its room names it.
struct Sub {
    roles: Vec<String>,
    content_type: String,
    id: Option<String>,
    filter: Option<Filter>,
}

impl Sub {
    fn covers(&self, content_type: &str, entry: &Value) -> bool {
        self.content_type == content_type
            && self.id.as_ref().is_none_or(|id| match entry.get("id") {
                Some(Value::String(s)) => s == id,
                Some(Value::Number(n)) => n.to_string() == *id,
                _ => false,
            })
            && self.filter.as_ref().is_none_or(|f| f.matches(entry))
    }
}

fn room_name(
    roles: &[String],
    content_type: &str,
    id: Option<&str>,
    filter: Option<&Value>,
) -> String {
    format!("{PREFIX}{}", json!([roles, content_type, id, filter]))
}

fn parse_room(room: &str) -> Option<Sub> {
    let (roles, content_type, id, filter): (Vec<String>, String, Option<String>, Option<Value>) =
        serde_json::from_str(room.strip_prefix(PREFIX)?).ok()?;
    let filter = match filter {
        Some(f) => Some(Filter::parse(&f).ok()?),
        None => None,
    };
    Some(Sub {
        roles,
        content_type,
        id,
        filter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_carry_the_whole_subscription() {
        let roles = vec!["editor".to_string()];
        let room = room_name(
            &roles,
            "article",
            Some("3"),
            Some(&json!({ "views": { "$gt": 1 } })),
        );
        let sub = parse_room(&room).unwrap();
        assert_eq!(sub.roles, roles);
        assert!(sub.covers("article", &json!({ "id": 3, "views": 2 })));
        assert!(!sub.covers("article", &json!({ "id": 4, "views": 2 })));
        assert!(!sub.covers("article", &json!({ "id": "3", "views": 0 })));
        assert!(!sub.covers("page", &json!({ "id": 3, "views": 2 })));
        assert!(parse_room("user-1").is_none());
    }
}
