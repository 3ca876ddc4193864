//! The client events of [`Presence`]: subscribe, list, view, leave.

use std::sync::Arc;

use iostack_core::{
    HookRoutes, Reply,
    extract::{SocketRef, TryData},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Presence, PresenceError,
    rooms::{PRESENCE_ROOM, scope_room},
};

/// `{room?}`: the scope of a presence subscription.
#[derive(Debug, Default, Deserialize)]
struct Scope {
    room: Option<String>,
}

/// `{entry}`: the entry a view is about.
#[derive(Debug, Deserialize)]
struct Entry {
    entry: String,
}

fn scope_of(data: TryData<Scope>) -> String {
    match data.0.ok().and_then(|s| s.room) {
        Some(room) => scope_room(&room),
        None => PRESENCE_ROOM.to_owned(),
    }
}

pub(crate) fn add<S>(presence: &Arc<Presence>, routes: &mut HookRoutes<S>)
where
    S: Send + Sync + 'static,
{
    let ns = presence.namespace_path().to_owned();
    routes.uses(ns.clone());

    let p = presence.clone();
    routes.on(
        &ns,
        "presence:subscribe",
        move |socket: SocketRef, data: TryData<Scope>| {
            let p = p.clone();
            async move {
                socket.join(scope_of(data));
                p.online().await.map(Reply)
            }
        },
    );
    routes.on(
        &ns,
        "presence:unsubscribe",
        move |socket: SocketRef, data: TryData<Scope>| async move {
            socket.leave(scope_of(data));
            Reply(json!({ "ok": true }))
        },
    );
    let p = presence.clone();
    routes.on(&ns, "presence:list", move || {
        let p = p.clone();
        async move { p.online().await.map(Reply) }
    });
    let p = presence.clone();
    routes.on(
        &ns,
        "presence:view",
        move |socket: SocketRef, data: TryData<Entry>| {
            let p = p.clone();
            async move {
                let entry = data.0.map_err(|_| PresenceError::InvalidEntry)?.entry;
                p.handle_view(&socket, entry).await.map(Reply)
            }
        },
    );
    let p = presence.clone();
    routes.on(
        &ns,
        "presence:leave",
        move |socket: SocketRef, data: TryData<Entry>| {
            let p = p.clone();
            async move {
                let entry = data.0.map_err(|_| PresenceError::InvalidEntry)?.entry;
                p.handle_leave(&socket, &entry).await;
                Ok::<_, PresenceError>(Reply(Value::Bool(true)))
            }
        },
    );
}
