//! [`Channels`]: the `join-channel` and `leave-channel` events, as hooks of an app.

use std::sync::Arc;

use iostack_core::{
    HookError, HookRoutes, Hooks, Identity, InitContext, Io,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ChannelError, ChannelStore};

/// What the joiner receives: `{channelId, members}`, the id as sent and the member count.
pub const JOINED_EVENT: &str = "channel:joined";
/// What the other members receive when someone joins: `{userId, username}`.
pub const USER_JOINED_EVENT: &str = "user:joined";
/// What the other members receive when someone leaves: `{userId, username}`.
pub const LEFT_EVENT: &str = "user:left";

/// The Socket.IO room of channel `id`.
pub fn channel_room(id: &str) -> String {
    format!("channel-{id}")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinChannel {
    channel_id: Value,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaveChannel {
    channel_id: Value,
}

/// `"general"` and `7` are both channel ids.
fn channel_id(value: &Value) -> Result<String, ChannelError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ChannelError::NotFound),
    }
}

/// Handles channel events in one namespace; register with `AppBuilder::hooks`. The sockets need an
/// [`Identity`] (put an authentication layer on that namespace), else they read `Authentication required`.
#[derive(Debug, Clone)]
pub struct Channels {
    store: ChannelStore,
    ns: String,
}

impl Channels {
    /// Channel events of namespace `ns`, stored in `store`.
    pub fn new(store: ChannelStore, ns: impl Into<String>) -> Self {
        Self {
            store,
            ns: ns.into(),
        }
    }
}

async fn join(
    store: &ChannelStore,
    socket: SocketRef,
    user: Identity,
    req: JoinChannel,
    ack: AckSender,
) -> Result<(), ChannelError> {
    let id = channel_id(&req.channel_id)?;
    let sid = socket.id.to_string();
    let members = store
        .join(
            &id,
            req.password.as_deref(),
            &sid,
            &user.id,
            user.username.as_deref(),
        )
        .await?;
    let room = channel_room(&id);
    socket.join(room.clone());
    let joined = json!({ "userId": user_id(&user), "username": user.username });
    if let Err(e) = socket.to(room).emit(USER_JOINED_EVENT, &joined).await {
        tracing::warn!(channel = %id, "user:joined not delivered to every member: {e}");
    }
    // The seed's shapes: `channelId` as the client sent it, `members` a count.
    let count = members.len();
    let _ = socket.emit(
        JOINED_EVENT,
        &json!({ "channelId": req.channel_id, "members": count }),
    );
    let _ = ack.send(&json!({ "ok": true, "channelId": req.channel_id, "members": count, "memberList": members }));
    Ok(())
}

/// The user id as the credential carried it: a number stays a number on the wire.
fn user_id(user: &Identity) -> Value {
    ["sub", "id"]
        .iter()
        .filter_map(|k| user.claims.get(*k))
        .find(|v| v.is_number() && v.to_string() == user.id)
        .cloned()
        .unwrap_or_else(|| Value::String(user.id.clone()))
}

async fn leave(
    store: &ChannelStore,
    socket: SocketRef,
    user: Identity,
    req: LeaveChannel,
    ack: AckSender,
) -> Result<(), ChannelError> {
    let id = channel_id(&req.channel_id)?;
    let was_member = store.leave(&id, &socket.id.to_string()).await?;
    if was_member {
        announce_leave(&socket, &id, &user).await;
    }
    let _ = ack.send(&json!({ "ok": was_member, "channelId": id }));
    Ok(())
}

async fn announce_leave(socket: &SocketRef, id: &str, user: &Identity) {
    let room = channel_room(id);
    socket.leave(room.clone());
    let left = json!({ "userId": user_id(user), "username": user.username });
    let _ = socket.to(room).emit(LEFT_EVENT, &left).await;
}

#[async_trait::async_trait]
impl<S> Hooks<S> for Channels
where
    S: Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "channels"
    }

    fn routes(self: Arc<Self>, routes: &mut HookRoutes<S>) {
        let store = self.store.clone();
        routes.on(
            self.ns.clone(),
            "join-channel",
            move |socket: SocketRef,
                  user: Identity,
                  Data(req): Data<JoinChannel>,
                  ack: AckSender| {
                let store = store.clone();
                async move { join(&store, socket, user, req, ack).await }
            },
        );
        let store = self.store.clone();
        routes.on(
            self.ns.clone(),
            "leave-channel",
            move |socket: SocketRef,
                  user: Identity,
                  Data(req): Data<LeaveChannel>,
                  ack: AckSender| {
                let store = store.clone();
                async move { leave(&store, socket, user, req, ack).await }
            },
        );
    }

    /// Frees the seats that an earlier run of this node, or a node that stopped beating, left.
    async fn init(&self, _: &mut InitContext<S>) -> Result<(), HookError> {
        match self.store.recover().await {
            Ok(0) => {}
            Ok(freed) => tracing::info!(freed, "seats of stopped nodes freed"),
            Err(e) => tracing::error!("seats of stopped nodes not freed: {e}"),
        }
        Ok(())
    }

    /// Frees every seat this node still holds, once its sockets are gone.
    async fn on_stopped(&self, _: &Io) {
        if let Err(e) = self.store.release_node().await {
            tracing::error!("seats of this node not freed: {e}");
        }
    }

    /// Frees the seats of a disconnected socket and tells the other members.
    async fn on_disconnect(&self, socket: &SocketRef, _: DisconnectReason) {
        if socket.ns() != self.ns {
            return;
        }
        match self.store.leave_all(&socket.id.to_string()).await {
            Ok(ids) => {
                let user = socket.extensions.get::<Identity>().unwrap_or_default();
                for id in ids {
                    announce_leave(socket, &id, &user).await;
                }
            }
            Err(e) => tracing::error!(socket.id = %socket.id, "seats not freed: {e}"),
        }
    }
}
