//! Viewing indicators: which sockets view which entry, until they leave or go idle.

use std::{collections::HashMap, time::Duration};

use tokio::time::Instant;

/// The entries this node's sockets view, each with the instant it expires at.
#[derive(Debug)]
pub(crate) struct ViewerTable {
    idle: Duration,
    views: HashMap<(String, String), Instant>,
}

impl ViewerTable {
    pub(crate) fn new(idle: Duration) -> Self {
        Self {
            idle,
            views: HashMap::new(),
        }
    }

    /// How long a view lasts without a refresh.
    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }

    /// Socket `sid` views `entry` (again): it expires `idle` from now. Returns whether it is new.
    pub(crate) fn touch(&mut self, sid: &str, entry: &str) -> bool {
        let deadline = Instant::now() + self.idle;
        self.views
            .insert((sid.to_owned(), entry.to_owned()), deadline)
            .is_none()
    }

    /// Socket `sid` stopped viewing `entry`; returns whether it was viewing it.
    pub(crate) fn remove(&mut self, sid: &str, entry: &str) -> bool {
        self.views
            .remove(&(sid.to_owned(), entry.to_owned()))
            .is_some()
    }

    /// Forgets socket `sid`; returns the entries it viewed.
    pub(crate) fn remove_socket(&mut self, sid: &str) -> Vec<String> {
        let mut entries = Vec::new();
        self.views.retain(|(s, entry), _| {
            let keep = s != sid;
            if !keep {
                entries.push(entry.clone());
            }
            keep
        });
        entries
    }

    /// Removes and returns the views whose idle time passed, as `(sid, entry)`.
    pub(crate) fn expire(&mut self) -> Vec<(String, String)> {
        let now = Instant::now();
        let mut expired = Vec::new();
        self.views.retain(|key, deadline| {
            let keep = *deadline > now;
            if !keep {
                expired.push(key.clone());
            }
            keep
        });
        expired
    }

    /// The instant the next view expires at, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.views.values().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_view_expires_after_the_idle_time_unless_touched() {
        let idle = Duration::from_secs(10);
        let mut table = ViewerTable::new(idle);
        assert!(table.touch("s1", "article:1"));
        assert!(table.touch("s2", "article:1"));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(!table.touch("s2", "article:1"), "a refresh is not new");
        assert!(table.expire().is_empty());
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(table.expire(), vec![("s1".into(), "article:1".into())]);
        assert_eq!(
            table.next_deadline(),
            Some(Instant::now() + Duration::from_secs(6))
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(table.expire(), vec![("s2".into(), "article:1".into())]);
        assert_eq!(table.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn leaving_and_disconnecting_remove_views() {
        let mut table = ViewerTable::new(Duration::from_secs(1));
        table.touch("s1", "a");
        table.touch("s1", "b");
        table.touch("s2", "a");
        assert!(table.remove("s2", "a"));
        assert!(!table.remove("s2", "a"));
        let mut gone = table.remove_socket("s1");
        gone.sort();
        assert_eq!(gone, vec!["a", "b"]);
        assert_eq!(table.next_deadline(), None);
    }
}
