//! The heartbeat: finds users whose node died, so the surviving nodes announce them offline.
//!
//! Every node lists the tab rooms cluster-wide every heartbeat (`presence~[node, user, name]`).
//! A user that disappeared together with every node that held them, while no surviving node
//! announced it, belonged to a node that stopped answering. Only one node, the *leader* (the
//! smallest node id still listed), announces such users, so they go offline once.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    time::Duration,
};

/// One listing of the cluster: for every online user, the nodes holding one of their sockets.
pub(crate) type Snapshot = BTreeMap<String, BTreeSet<String>>;

/// Compares successive snapshots; pure, so the timing logic is tested on its own.
#[derive(Debug, Default)]
pub(crate) struct Sweeper {
    previous: Snapshot,
}

impl Sweeper {
    /// Records `now` and returns the users to announce offline, if `me` leads.
    pub(crate) fn observe(&mut self, me: &str, now: Snapshot) -> Vec<String> {
        let alive: BTreeSet<&String> = now.values().flatten().collect();
        let leader = alive.iter().next().map(|n| n.as_str());
        let mut gone = Vec::new();
        if leader == Some(me) {
            for (user, nodes) in &self.previous {
                // A node still listed (or this one) announced its own users already.
                let died = nodes.iter().all(|n| n != me && !alive.contains(n));
                if !now.contains_key(user) && died {
                    gone.push(user.clone());
                }
            }
        }
        self.previous = now;
        gone
    }
}

/// Lists the cluster every `every` and hands each user found gone to `offline`, until `list`
/// returns `None` (the server stopped). A failed listing (`Some(Err)`) is skipped.
pub(crate) async fn run<L, LF, O, OF>(me: String, every: Duration, mut list: L, mut offline: O)
where
    L: FnMut() -> LF,
    LF: Future<Output = Option<Result<Snapshot, String>>>,
    O: FnMut(String) -> OF,
    OF: Future<Output = ()>,
{
    let mut sweeper = Sweeper::default();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match list().await {
            None => return,
            Some(Err(e)) => tracing::warn!("presence heartbeat: cluster listing failed: {e}"),
            Some(Ok(now)) => {
                for user in sweeper.observe(&me, now) {
                    offline(user).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::time::Instant;

    use super::*;

    fn snapshot(pairs: &[(&str, &str)]) -> Snapshot {
        let mut s = Snapshot::new();
        for (user, node) in pairs {
            s.entry(user.to_string())
                .or_default()
                .insert(node.to_string());
        }
        s
    }

    #[test]
    fn leader_announces_the_users_of_a_vanished_node_once() {
        let mut a = Sweeper::default();
        assert!(
            a.observe("a", snapshot(&[("1", "a"), ("2", "b")]))
                .is_empty()
        );
        assert_eq!(a.observe("a", snapshot(&[("1", "a")])), vec!["2"]);
        assert!(a.observe("a", snapshot(&[("1", "a")])).is_empty());
    }

    #[test]
    fn followers_stay_silent_and_users_on_surviving_nodes_stay_online() {
        let mut b = Sweeper::default();
        b.observe("b", snapshot(&[("1", "a"), ("2", "c"), ("3", "b")]));
        assert!(
            b.observe("b", snapshot(&[("1", "a"), ("3", "b")]))
                .is_empty()
        );
        let mut a = Sweeper::default();
        // User 4 had tabs on a dead node and a live one: still online, nothing announced.
        a.observe("a", snapshot(&[("1", "a"), ("4", "a"), ("4", "c")]));
        assert!(
            a.observe("a", snapshot(&[("1", "a"), ("4", "a")]))
                .is_empty()
        );
        // User 5 left node a normally: node a announced it, the sweep does not repeat it.
        a.observe("a", snapshot(&[("1", "a"), ("5", "a")]));
        assert!(a.observe("a", snapshot(&[("1", "a")])).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_nodes_users_go_offline_within_one_heartbeat_and_a_listing() {
        let heartbeat = Duration::from_secs(5);
        let start = Instant::now();
        let died_at = start + Duration::from_secs(7);
        let announced = Arc::new(Mutex::new(Vec::new()));
        let sink = announced.clone();
        let sweeps = tokio::spawn(run(
            "a".to_string(),
            heartbeat,
            move || async move {
                if Instant::now() >= start + Duration::from_secs(30) {
                    return None;
                }
                Some(Ok(if Instant::now() < died_at {
                    snapshot(&[("1", "a"), ("2", "b")])
                } else {
                    snapshot(&[("1", "a")])
                }))
            },
            move |user| {
                let sink = sink.clone();
                async move { sink.lock().unwrap().push((user, Instant::now())) }
            },
        ));
        sweeps.await.unwrap();
        let announced = announced.lock().unwrap().clone();
        assert_eq!(announced.len(), 1, "{announced:?}");
        let (user, at) = &announced[0];
        assert_eq!(user, "2");
        assert!(*at >= died_at && *at <= died_at + heartbeat, "{at:?}");
    }
}
