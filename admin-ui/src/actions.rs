//! The UI's actions: `join`, `leave`, `_disconnect` and `emit`, on a namespace, a room or one socket,
//! anywhere in the cluster.
//!
//! The official UI names one socket by giving its id as the filter (Node's sockets are in a room
//! named after their id; socketioxide's are not), so a filter that is a live socket's id selects
//! that socket, on this node or, through the adapter, on another.

use std::sync::Arc;

use iostack_core::{
    AnyAdapter, Io,
    extract::Data,
    socketioxide::{
        operators::BroadcastOperators,
        socket::{RemoteSocket, Sid},
    },
};
use serde_json::Value;

use crate::tracker::Tracker;

/// What an action is applied to.
enum Target {
    /// Every socket of the namespace, or of a room in it.
    Many(BroadcastOperators<AnyAdapter>),
    /// One socket, wherever it is connected.
    One(RemoteSocket<AnyAdapter>),
}

async fn target(io: &Io, nsp: &str, filter: Option<&str>) -> Option<Target> {
    let ns = io.of(nsp)?;
    let Some(filter) = filter.filter(|f| !f.is_empty()) else {
        return Some(Target::Many(ns));
    };
    if let Ok(sid) = filter.parse::<Sid>() {
        match ns.clone().fetch_sockets().await {
            Ok(sockets) => {
                if let Some(socket) = sockets.into_iter().find(|s| s.data().id == sid) {
                    return Some(Target::One(socket));
                }
            }
            Err(e) => tracing::warn!(ns = nsp, "Admin UI: cannot look the socket up: {e}"),
        }
    }
    Some(Target::Many(ns.within(filter.to_owned())))
}

pub(crate) async fn join(
    tracker: Arc<Tracker>,
    io: Io,
    Data((nsp, room, filter)): Data<(String, String, Option<String>)>,
) {
    tracing::info!(ns = %nsp, room = %room, filter = ?filter, "Admin UI: join");
    let result = match target(&io, &nsp, filter.as_deref()).await {
        Some(Target::Many(ops)) => ops.join(room).await.map_err(|e| e.to_string()),
        Some(Target::One(socket)) => socket.join(room).await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(ns = %nsp, "Admin UI: join failed: {e}");
    }
    tracker.rooms_changed();
}

pub(crate) async fn leave(
    tracker: Arc<Tracker>,
    io: Io,
    Data((nsp, room, filter)): Data<(String, String, Option<String>)>,
) {
    tracing::info!(ns = %nsp, room = %room, filter = ?filter, "Admin UI: leave");
    let result = match target(&io, &nsp, filter.as_deref()).await {
        Some(Target::Many(ops)) => ops.leave(room).await.map_err(|e| e.to_string()),
        Some(Target::One(socket)) => socket.leave(room).await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(ns = %nsp, "Admin UI: leave failed: {e}");
    }
    tracker.rooms_changed();
}

pub(crate) async fn disconnect(
    io: Io,
    Data((nsp, _close, filter)): Data<(String, Option<bool>, Option<String>)>,
) {
    tracing::info!(ns = %nsp, filter = ?filter, "Admin UI: disconnect");
    let result = match target(&io, &nsp, filter.as_deref()).await {
        Some(Target::Many(ops)) => ops.disconnect().await.map_err(|e| e.to_string()),
        Some(Target::One(socket)) => socket.disconnect().await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(ns = %nsp, "Admin UI: disconnect failed: {e}");
    }
}

pub(crate) async fn emit(
    io: Io,
    Data((nsp, filter, event, payload)): Data<(String, Option<String>, String, Option<Value>)>,
) {
    tracing::info!(ns = %nsp, filter = ?filter, event = %event, "Admin UI: emit");
    let result = match target(&io, &nsp, filter.as_deref()).await {
        Some(Target::Many(ops)) => match &payload {
            Some(payload) => ops.emit(&event, payload).await,
            None => ops.emit(&event, &()).await,
        }
        .map_err(|e| e.to_string()),
        Some(Target::One(socket)) => match &payload {
            Some(payload) => socket.emit(&event, payload).await,
            None => socket.emit(&event, &()).await,
        }
        .map_err(|e| e.to_string()),
        None => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(ns = %nsp, "Admin UI: emit failed: {e}");
    }
}
