//! [`SessionConnections`]: which TCP connection carries each websocket session, so that the
//! [`Overflow::Disconnect`](crate::delivery::Overflow::Disconnect) policy can close a slow
//! consumer's connection when its queue is full (socket.io's own disconnect needs room in that
//! queue for the disconnect packet).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use socketioxide::socket::Sid;

use super::open::Conn;

/// The connection a request came on, in the request's extensions. engineioxide keeps the
/// handshake request's extensions for the session's life: a session opened as a websocket finds
/// its connection there.
#[derive(Clone)]
pub(crate) struct ConnOf(Weak<Conn>);

impl ConnOf {
    pub(super) fn new(conn: &Arc<Conn>) -> Self {
        Self(Arc::downgrade(conn))
    }
}

/// The websocket connection of each session (by Engine.IO session id, which socketioxide uses as
/// every namespace's socket id). Entries of closed connections are dropped as the map grows: it
/// holds at most about twice the open websockets.
#[derive(Clone, Default)]
pub(crate) struct SessionConnections(Arc<Mutex<Map>>);

#[derive(Default)]
struct Map {
    by_sid: HashMap<Sid, Weak<Conn>>,
    /// How many entries the map may hold before the closed ones are dropped.
    prune_at: usize,
}

impl std::fmt::Debug for SessionConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConnections")
            .field("sessions", &self.lock().by_sid.len())
            .finish()
    }
}

impl SessionConnections {
    /// Records that session `sid` upgraded to a websocket on `conn`: it replaces any entry.
    pub(super) fn upgraded(&self, sid: Sid, conn: &Arc<Conn>) {
        self.lock().insert(sid, Arc::downgrade(conn));
    }

    /// Records the connection of socket `sid` opened as a websocket on the connection `conn` names,
    /// unless an upgrade recorded its connection already (an upgraded session's handshake came on
    /// the polling connection, which `conn` then names).
    pub(crate) fn opened(&self, sid: Sid, conn: &ConnOf) {
        let mut map = self.lock();
        if map.by_sid.get(&sid).is_none_or(|c| c.strong_count() == 0) {
            map.insert(sid, conn.0.clone());
        }
    }

    /// Closes the websocket connection of session `sid` both ways: its reader sees the end and
    /// socket.io closes the session. Returns false when no open connection is known for `sid`
    /// (a polling session, or one that closed already) or it was closed already.
    pub(crate) fn close(&self, sid: Sid) -> bool {
        let conn = self.lock().by_sid.get(&sid).and_then(Weak::upgrade);
        conn.is_some_and(|conn| conn.close_both())
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // Inserting and pruning cannot leave the map half-changed: keep going after a panic.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Map {
    fn insert(&mut self, sid: Sid, conn: Weak<Conn>) {
        self.by_sid.insert(sid, conn);
        if self.by_sid.len() > self.prune_at {
            self.by_sid.retain(|_, conn| conn.strong_count() > 0);
            self.by_sid.shrink_to_fit();
            self.prune_at = (self.by_sid.len() * 2).max(64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::open::Asked;

    #[test]
    fn an_upgrade_wins_over_the_handshake_connection() {
        let sessions = SessionConnections::default();
        let polling = Arc::new(Conn::default());
        let websocket = Arc::new(Conn::default());
        let sid = Sid::new();
        sessions.upgraded(sid, &websocket);
        sessions.opened(sid, &ConnOf::new(&polling));

        assert!(sessions.close(sid));
        assert_eq!(websocket.asked(), Asked::Both);
        assert_eq!(polling.asked(), Asked::Nothing);
        assert!(!sessions.close(sid), "closed once");
        assert!(!sessions.close(Sid::new()), "unknown session");
    }

    #[test]
    fn closed_connections_leave_the_map_as_it_grows() {
        let sessions = SessionConnections::default();
        let open = Arc::new(Conn::default());
        let kept = Sid::new();
        sessions.upgraded(kept, &open);
        for _ in 0..1000 {
            sessions.upgraded(Sid::new(), &Arc::new(Conn::default()));
        }
        let len = sessions.lock().by_sid.len();
        assert!(len <= 65, "{len} entries for one open connection");
        assert!(sessions.close(kept));
    }
}
