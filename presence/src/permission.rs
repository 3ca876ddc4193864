//! Per-subscriber permissions: a [`Policy`] decides, per role set, content type and action,
//! which entries a subscriber hears of and which of their fields it reads; [`Permissions`]
//! caches the decisions and drops them when the policy changes.
//!
//! ```
//! use iostack_presence::{Action, Filter, Permissions, RolePolicy};
//! use serde_json::json;
//!
//! let policy = RolePolicy::new()
//!     .read("editor", "article")
//!     .read_where("reader", "article", Filter::parse(&json!({ "status": "published" })).unwrap())
//!     .hide("reader", "article", ["internalNotes"]);
//! let permissions = Permissions::new(policy.clone());
//! let article = json!({ "id": 1, "status": "published", "title": "Hi", "internalNotes": "x" });
//! let reader = permissions.decide(&["reader".into()], "article", Action::Update);
//! assert_eq!(reader.project(&article), Some(json!({ "id": 1, "status": "published", "title": "Hi" })));
//! policy.hide("reader", "article", ["title"]); // takes effect on the next decision
//! let reader = permissions.decide(&["reader".into()], "article", Action::Update);
//! assert_eq!(reader.project(&article), Some(json!({ "id": 1, "status": "published" })));
//! ```

mod decision;
mod role_policy;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};

pub use decision::{Decision, Fields, Grant};
pub use role_policy::RolePolicy;

/// What happened to an entry: the event subscribers receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The entry was created: event `create`.
    Create,
    /// The entry changed: event `update`.
    Update,
    /// The entry was deleted: event `delete`.
    Delete,
}

impl Action {
    /// The event name: `create`, `update` or `delete`.
    pub fn event(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// Decides what a subscriber may hear of a content type. Decisions depend on the subscriber's
/// roles (not on its id), so they are computed once per role set and cached; entry-level rules
/// are [`Filter`](crate::Filter)s inside the [`Decision`].
pub trait Policy: Send + Sync + 'static {
    /// What subscribers with `roles` hear of `action` on entries of `content_type`.
    fn decide(&self, roles: &[String], content_type: &str, action: Action) -> Decision;

    /// A number that changes whenever the policy's decisions may have changed; cached decisions
    /// made under another revision are dropped. A fixed policy keeps the default `0`.
    fn revision(&self) -> u64 {
        0
    }
}

type Key = (Vec<String>, String, Action);

/// A [`Policy`] with its decisions cached per role set, type and action.
#[derive(Clone)]
pub struct Permissions {
    inner: Arc<Shared>,
}

struct Shared {
    policy: Mutex<Arc<dyn Policy>>,
    /// Bumped by [`Permissions::set_policy`] and [`Permissions::invalidate`].
    epoch: AtomicU64,
    cache: Mutex<(u64, u64, HashMap<Key, Arc<Decision>>)>,
}

impl std::fmt::Debug for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permissions").finish_non_exhaustive()
    }
}

impl Permissions {
    /// Decisions of `policy`, cached.
    pub fn new(policy: impl Policy) -> Self {
        Self {
            inner: Arc::new(Shared {
                policy: Mutex::new(Arc::new(policy)),
                epoch: AtomicU64::new(0),
                cache: Mutex::new((0, 0, HashMap::new())),
            }),
        }
    }

    /// Replaces the policy; the next decision uses it.
    pub fn set_policy(&self, policy: impl Policy) {
        *lock(&self.inner.policy) = Arc::new(policy);
        self.invalidate();
    }

    /// Drops every cached decision (for policies that do not report a [`Policy::revision`]).
    pub fn invalidate(&self) {
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The decision for subscribers with `roles` (sorted or not), from the cache when the policy
    /// has not changed since it was made.
    pub fn decide(&self, roles: &[String], content_type: &str, action: Action) -> Arc<Decision> {
        let policy = lock(&self.inner.policy).clone();
        let stamp = (self.inner.epoch.load(Ordering::SeqCst), policy.revision());
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let key = (roles, content_type.to_owned(), action);
        {
            let mut cache = lock(&self.inner.cache);
            if (cache.0, cache.1) != stamp {
                *cache = (stamp.0, stamp.1, HashMap::new());
            } else if let Some(hit) = cache.2.get(&key) {
                return hit.clone();
            }
        }
        let decision = Arc::new(policy.decide(&key.0, content_type, action));
        let mut cache = lock(&self.inner.cache);
        if (cache.0, cache.1) == stamp && cache.2.len() < 10_000 {
            cache.2.insert(key, decision.clone());
        }
        decision
    }

    /// How many decisions are cached (for tests and monitoring).
    pub fn cached(&self) -> usize {
        lock(&self.inner.cache).2.len()
    }
}

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    struct Counting(Arc<AtomicUsize>);

    impl Policy for Counting {
        fn decide(&self, roles: &[String], _: &str, _: Action) -> Decision {
            self.0.fetch_add(1, Ordering::SeqCst);
            if roles.iter().any(|r| r == "editor") {
                Decision::allow(Fields::All)
            } else {
                Decision::deny()
            }
        }
    }

    #[test]
    fn decisions_are_cached_per_role_set_and_dropped_on_change() {
        let calls = Arc::new(AtomicUsize::new(0));
        let permissions = Permissions::new(Counting(calls.clone()));
        let editor = ["editor".to_string(), "x".to_string()];
        let same = ["x".to_string(), "editor".to_string()];
        for _ in 0..100 {
            assert!(
                permissions
                    .decide(&editor, "a", Action::Update)
                    .allows_any()
            );
            assert!(permissions.decide(&same, "a", Action::Update).allows_any());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!permissions.decide(&[], "a", Action::Update).allows_any());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        permissions.invalidate();
        permissions.decide(&editor, "a", Action::Update);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        permissions.set_policy(RolePolicy::new());
        assert!(
            !permissions
                .decide(&editor, "a", Action::Update)
                .allows_any()
        );
    }
}
