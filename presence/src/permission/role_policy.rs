//! [`RolePolicy`]: the default policy, from roles and per-field rules, editable while running.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{Action, Decision, Fields, Grant, Policy, lock};
use crate::Filter;

#[derive(Debug, Clone, Default)]
struct Rule {
    hidden: BTreeSet<String>,
    only: Option<Filter>,
}

/// Read rules per (role, content type): a role reads a type's entries (all, or those passing a
/// [`Filter`]) without its hidden fields. Every action is covered by the read rule. Clones share
/// the rules: changing them through any clone takes effect on the next delivery.
#[derive(Debug, Clone, Default)]
pub struct RolePolicy {
    rules: Arc<Mutex<HashMap<(String, String), Rule>>>,
    revision: Arc<AtomicU64>,
}

impl RolePolicy {
    /// A policy that allows nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn edit(&self, role: &str, content_type: &str, f: impl FnOnce(&mut Rule)) {
        let mut rules = lock(&self.rules);
        f(rules
            .entry((role.to_owned(), content_type.to_owned()))
            .or_default());
        self.revision.fetch_add(1, Ordering::SeqCst);
    }

    /// `role` reads every entry of `content_type`.
    pub fn read(self, role: &str, content_type: &str) -> Self {
        self.edit(role, content_type, |r| r.only = None);
        self
    }

    /// `role` reads the entries of `content_type` that pass `filter`.
    pub fn read_where(self, role: &str, content_type: &str, filter: Filter) -> Self {
        self.edit(role, content_type, |r| r.only = Some(filter));
        self
    }

    /// `role` no longer reads `fields` of `content_type` (grants read access if it had none).
    pub fn hide<I: IntoIterator<Item = F>, F: Into<String>>(
        &self,
        role: &str,
        content_type: &str,
        fields: I,
    ) -> Self {
        self.edit(role, content_type, |r| {
            r.hidden.extend(fields.into_iter().map(Into::into))
        });
        self.clone()
    }

    /// `role` reads `fields` of `content_type` again.
    pub fn show<I: IntoIterator<Item = F>, F: Into<String>>(
        &self,
        role: &str,
        content_type: &str,
        fields: I,
    ) -> Self {
        self.edit(role, content_type, |r| {
            for field in fields {
                r.hidden.remove(&field.into());
            }
        });
        self.clone()
    }

    /// `role` no longer reads `content_type` at all.
    pub fn revoke(&self, role: &str, content_type: &str) {
        lock(&self.rules).remove(&(role.to_owned(), content_type.to_owned()));
        self.revision.fetch_add(1, Ordering::SeqCst);
    }
}

impl Policy for RolePolicy {
    fn decide(&self, roles: &[String], content_type: &str, _action: Action) -> Decision {
        let rules = lock(&self.rules);
        roles
            .iter()
            .filter_map(|role| rules.get(&(role.clone(), content_type.to_owned())))
            .fold(Decision::deny(), |d, rule| {
                d.with(Grant {
                    fields: if rule.hidden.is_empty() {
                        Fields::All
                    } else {
                        Fields::Except(rule.hidden.clone())
                    },
                    only: rule.only.clone(),
                })
            })
    }

    fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }
}
