//! Cluster-wide helpers on [`Io`]: kick a user, broadcast to a role, disconnect a socket.
//!
//! They act on every node and in every namespace through the adapter. Users and roles are found
//! through the rooms core makes every authenticated socket join at admission (`user-{id}`,
//! `role-{role}`), whatever layers its namespace has.

use serde::Serialize;
use serde_json::json;
use socketioxide::{
    BroadcastError,
    operators::BroadcastOperators,
    socket::{RemoteSocket, Sid},
};

use crate::{
    AnyAdapter, Io,
    rooms::{role_room, user_room},
};

/// Event a socket receives from [`Io::disconnect_socket`] right before it is disconnected.
pub const SERVER_DISCONNECT_EVENT: &str = "server:disconnect";

/// Event every socket of a user receives from [`Io::kick_user`] right before it is disconnected.
pub const KICKED_EVENT: &str = "kicked";

/// Why a cluster-wide action on [`Io`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The socket id is not a valid Engine.IO session id.
    #[error("invalid socket id `{0}`")]
    InvalidSocketId(String),
    /// The adapter could not reach the other nodes.
    #[error("cluster request failed: {0}")]
    Adapter(String),
}

impl From<BroadcastError> for IoError {
    fn from(e: BroadcastError) -> Self {
        Self::Adapter(e.to_string())
    }
}

impl Io {
    /// Sends every socket of user `user_id`, in every namespace and on every node,
    /// [`KICKED_EVENT`] `{"reason": reason}`, then disconnects it.
    ///
    /// Returns whether any socket was found.
    pub async fn kick_user(&self, user_id: &str, reason: &str) -> Result<bool, IoError> {
        let room = user_room(user_id);
        let payload = json!({ "reason": reason });
        let mut found = false;
        for ns in self.socketio().nsps() {
            let sockets = fetch(ns.within(room.clone())).await?;
            found |= send_and_disconnect(sockets, KICKED_EVENT, &payload).await?;
        }
        Ok(found)
    }

    /// Emits `event` to every socket whose identity has `role`, in every namespace and on every node.
    pub async fn broadcast_to_role<T: ?Sized + Serialize>(
        &self,
        role: &str,
        event: &str,
        data: &T,
    ) -> Result<(), IoError> {
        let room = role_room(role);
        for ns in self.socketio().nsps() {
            ns.within(room.clone()).emit(event, data).await?;
        }
        Ok(())
    }

    /// Disconnects socket `id` wherever it is connected in the cluster, after sending it
    /// [`SERVER_DISCONNECT_EVENT`] `{"reason": reason}`.
    ///
    /// Returns whether a socket with that id was found.
    pub async fn disconnect_socket(&self, id: &str, reason: &str) -> Result<bool, IoError> {
        let sid: Sid = id
            .parse()
            .map_err(|_| IoError::InvalidSocketId(id.to_owned()))?;
        let payload = json!({ "reason": reason });
        let mut found = false;
        for ns in self.socketio().nsps() {
            if let Some(socket) = ns.get_socket(sid) {
                // Local: no round trip through the store.
                let _ = socket.emit(SERVER_DISCONNECT_EVENT, &payload);
                let _ = socket.disconnect();
                found = true;
                continue;
            }
            let remote = fetch(ns).await?.into_iter().filter(|s| s.data().id == sid);
            found |= send_and_disconnect(remote, SERVER_DISCONNECT_EVENT, &payload).await?;
        }
        Ok(found)
    }
}

async fn fetch(
    target: BroadcastOperators<AnyAdapter>,
) -> Result<Vec<RemoteSocket<AnyAdapter>>, IoError> {
    target
        .fetch_sockets()
        .await
        .map_err(|e| IoError::Adapter(e.to_string()))
}

/// Emits to each socket, then disconnects it: the event is queued before the disconnect.
async fn send_and_disconnect(
    sockets: impl IntoIterator<Item = RemoteSocket<AnyAdapter>>,
    event: &str,
    payload: &serde_json::Value,
) -> Result<bool, IoError> {
    let mut found = false;
    for socket in sockets {
        found = true;
        socket
            .emit(event, payload)
            .await
            .map_err(|e| IoError::Adapter(e.to_string()))?;
        socket
            .disconnect()
            .await
            .map_err(|e| IoError::Adapter(e.to_string()))?;
    }
    Ok(found)
}
