//! [`Decision`]: what one role set may hear of one content type and action.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Filter;

/// Which fields of an entry a subscriber reads. `id` is always kept, so deletes can be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// Every field.
    All,
    /// Every field but these.
    Except(BTreeSet<String>),
    /// Only these fields.
    Only(BTreeSet<String>),
}

impl Fields {
    /// The fields readable under either `self` or `other`.
    pub fn union(&self, other: &Fields) -> Fields {
        use Fields::*;
        match (self, other) {
            (All, _) | (_, All) => All,
            (Except(a), Except(b)) => Except(a.intersection(b).cloned().collect()),
            (Except(a), Only(b)) | (Only(b), Except(a)) => {
                Except(a.difference(b).cloned().collect())
            }
            (Only(a), Only(b)) => Only(a.union(b).cloned().collect()),
        }
    }

    fn readable(&self, field: &str) -> bool {
        field == "id"
            || match self {
                Fields::All => true,
                Fields::Except(hidden) => !hidden.contains(field),
                Fields::Only(shown) => shown.contains(field),
            }
    }
}

/// One way of being allowed: the fields it shows, on the entries its filter accepts.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The readable fields.
    pub fields: Fields,
    /// The entries this grant covers; every entry when `None`.
    pub only: Option<Filter>,
}

/// The grants of one role set for one type and action; no grant means no access.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    grants: Vec<Grant>,
}

impl Decision {
    /// Nothing is delivered.
    pub fn deny() -> Self {
        Self::default()
    }

    /// Every entry is delivered with `fields`.
    pub fn allow(fields: Fields) -> Self {
        Self::deny().with(Grant { fields, only: None })
    }

    /// Adds a grant: entries it covers are delivered with its fields (and those of the others
    /// covering them too).
    pub fn with(mut self, grant: Grant) -> Self {
        self.grants.push(grant);
        self
    }

    /// Whether some entries may be delivered at all.
    pub fn allows_any(&self) -> bool {
        !self.grants.is_empty()
    }

    /// The fields readable in `entry`, or `None` when no grant covers it.
    pub fn fields_for(&self, entry: &Value) -> Option<Fields> {
        self.grants
            .iter()
            .filter(|g| g.only.as_ref().is_none_or(|f| f.matches(entry)))
            .map(|g| g.fields.clone())
            .reduce(|a, b| a.union(&b))
    }

    /// `entry` as the subscriber may see it: without unreadable top-level fields, or `None` when
    /// it may not hear of the entry at all.
    pub fn project(&self, entry: &Value) -> Option<Value> {
        let fields = self.fields_for(entry)?;
        Some(match entry {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| fields.readable(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unions_keep_what_any_grant_shows() {
        let except = Fields::Except(set(&["a", "b"]));
        assert_eq!(
            except.union(&Fields::Only(set(&["a"]))),
            Fields::Except(set(&["b"]))
        );
        assert_eq!(
            except.union(&Fields::Except(set(&["b", "c"]))),
            Fields::Except(set(&["b"]))
        );
        assert_eq!(
            Fields::Only(set(&["a"])).union(&Fields::Only(set(&["b"]))),
            Fields::Only(set(&["a", "b"]))
        );
        assert_eq!(except.union(&Fields::All), Fields::All);
    }

    #[test]
    fn entries_outside_every_grant_are_not_delivered() {
        let published = Filter::parse(&json!({ "status": "published" })).unwrap();
        let d = Decision::deny().with(Grant {
            fields: Fields::Only(set(&["title"])),
            only: Some(published),
        });
        assert_eq!(d.project(&json!({ "id": 1, "status": "draft" })), None);
        assert_eq!(
            d.project(&json!({ "id": 1, "status": "published", "title": "t", "secret": 1 })),
            Some(json!({ "id": 1, "title": "t" }))
        );
        assert_eq!(Decision::deny().project(&json!({ "id": 1 })), None);
    }
}
