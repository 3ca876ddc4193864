//! What the other nodes (and `@socket.io/redis-emitter`) publish, acted on in one namespace.
//!
//! A message that cannot be read is logged at `warn` with the reason and skipped.

use std::{sync::Weak, time::Duration};

use futures_util::StreamExt;
use serde_json::{Value as Json, json};
use socketioxide_core::{
    Sid,
    adapter::{BroadcastOptions, SocketEmitter},
};
use tokio::sync::mpsc;

use crate::{
    ServerSideEvent,
    adapter::NodeCompatAdapter,
    connection::{ChannelKind, Incoming},
    packet::{self, first_ack_arg},
    protocol::{
        Message, NodePacket, Opts, RequestType, decode_broadcast, decode_message, json_bytes,
    },
    server_side::ServerSideAck,
    wire,
};

/// Handles the messages of one namespace in order until the namespace is gone.
pub(crate) async fn run<E: SocketEmitter>(
    adapter: Weak<NodeCompatAdapter<E>>,
    mut rx: mpsc::Receiver<Incoming>,
) {
    while let Some(msg) = rx.recv().await {
        let Some(adapter) = adapter.upgrade() else {
            return;
        };
        match msg.kind {
            ChannelKind::Broadcast => adapter.on_broadcast(&msg),
            ChannelKind::Request => adapter.on_request(&msg).await,
            ChannelKind::Response => match decode_message(&msg.payload) {
                Ok(response) => adapter.shared.on_response(response),
                Err(e) => tracing::warn!(channel = msg.channel, "malformed response skipped: {e}"),
            },
        }
    }
}

/// A Node event payload is `[event name, ...args]`.
fn is_event_data(data: &Json) -> bool {
    matches!(
        data.as_array().and_then(|a| a.first()),
        Some(Json::String(_))
    )
}

impl<E: SocketEmitter> NodeCompatAdapter<E> {
    fn on_broadcast(&self, msg: &Incoming) {
        let b = match decode_broadcast(&msg.payload) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(channel = msg.channel, "malformed broadcast skipped: {e}");
                return;
            }
        };
        if b.uid == self.shared.uid || b.packet.nsp.as_deref().unwrap_or("/") != self.path() {
            return;
        }
        if !is_event_data(&b.packet.data) {
            tracing::warn!(
                channel = msg.channel,
                "broadcast without an event name skipped"
            );
            return;
        }
        self.join_own_id_rooms(&b.opts);
        let packet = packet::from_node(self.form, self.path(), &b.packet.data, b.bins);
        if let Err(e) = self.local.broadcast(packet, b.opts.to_broadcast_options()) {
            tracing::debug!("broadcast from another node not delivered to every socket: {e:?}");
        }
    }

    /// Node targets one socket through the room of its id: each local socket named in `opts`
    /// joins its own id room (left again on disconnect, like every room).
    fn join_own_id_rooms(&self, opts: &Opts) {
        for room in opts.rooms() {
            let Ok(sid) = room.parse::<Sid>() else {
                continue;
            };
            if self
                .local
                .fetch_sockets(BroadcastOptions::new(sid))
                .is_empty()
                || self.local.socket_rooms(sid).contains(room)
            {
                continue;
            }
            self.local.add_all(sid, room.to_owned());
        }
    }

    fn local_socket(&self, id: Option<&str>) -> Option<Sid> {
        let sid = id?.parse::<Sid>().ok()?;
        (!self
            .local
            .fetch_sockets(BroadcastOptions::new(sid))
            .is_empty())
        .then_some(sid)
    }

    async fn respond(&self, request: &Message, mut body: Json) {
        body["requestId"] = json!(request.request_id);
        self.respond_bytes(request, json_bytes(&body)).await;
    }

    async fn respond_bytes(&self, request: &Message, bytes: Vec<u8>) {
        let channel = match (&request.uid, self.shared.config.specific_response_channel) {
            (Some(uid), true) => format!("{}{uid}#", self.channels.response),
            _ => self.channels.response.clone(),
        };
        if let Err(e) = self.shared.publish(&channel, bytes).await {
            tracing::warn!("response to another node lost: {e}");
        }
    }

    async fn on_request(&self, msg: &Incoming) {
        let decoded = match decode_message(&msg.payload) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(channel = msg.channel, "malformed request skipped: {e}");
                return;
            }
        };
        let m = &decoded.message;
        if m.uid.as_deref() == Some(self.shared.uid.as_str()) {
            return;
        }
        let opts = m.opts.clone().unwrap_or_default();
        let rooms: Vec<String> = m.rooms.iter().flatten().map(|r| r.0.clone()).collect();
        if m.opts.is_some() {
            self.join_own_id_rooms(&opts);
        }
        match m.kind() {
            Some(RequestType::Sockets) => {
                let opts = Opts {
                    rooms: m.rooms.clone().unwrap_or_default(),
                    ..Opts::default()
                };
                let sids: Vec<String> = self
                    .local
                    .sockets(opts.to_broadcast_options())
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                self.respond(m, json!({ "sockets": sids })).await;
            }
            Some(RequestType::AllRooms) => {
                let rooms = self.local.rooms(Opts::default().to_broadcast_options());
                self.respond(m, json!({ "rooms": rooms })).await;
            }
            Some(RequestType::RemoteJoin) if m.opts.is_some() => {
                self.local.add_sockets(opts.to_broadcast_options(), rooms);
            }
            Some(RequestType::RemoteLeave) if m.opts.is_some() => {
                self.local.del_sockets(opts.to_broadcast_options(), rooms);
            }
            Some(RequestType::RemoteDisconnect) if m.opts.is_some() => {
                let _ = self.local.disconnect_socket(opts.to_broadcast_options());
            }
            Some(
                kind @ (RequestType::RemoteJoin
                | RequestType::RemoteLeave
                | RequestType::RemoteDisconnect),
            ) => {
                let Some(sid) = self.local_socket(m.sid.as_deref()) else {
                    return;
                };
                let room = m.room.clone().map(|r| r.0).unwrap_or_default();
                match kind {
                    RequestType::RemoteJoin => self.local.add_all(sid, room),
                    RequestType::RemoteLeave => self.local.del(sid, room),
                    _ => drop(self.local.disconnect_socket(BroadcastOptions::new(sid))),
                }
                self.respond(m, json!({})).await;
            }
            Some(RequestType::RemoteFetch) => {
                let sockets: Vec<Json> = self
                    .local
                    .fetch_sockets(opts.to_broadcast_options())
                    .into_iter()
                    .map(|s| self.describe(s.id))
                    .collect();
                self.respond(m, json!({ "sockets": sockets })).await;
            }
            Some(RequestType::ServerSideEmit) => self.on_server_side_emit(m),
            Some(RequestType::Broadcast) => self.on_broadcast_with_ack(decoded),
            _ => tracing::debug!("request of unknown type skipped"),
        }
    }

    /// A local socket as Node's `fetchSockets` describes it.
    fn describe(&self, sid: Sid) -> Json {
        let mut rooms: Vec<String> = self
            .local
            .socket_rooms(sid)
            .into_iter()
            .map(String::from)
            .collect();
        let id = sid.to_string();
        if !rooms.contains(&id) {
            rooms.insert(0, id.clone());
        }
        json!({
            "id": id,
            "rooms": rooms,
            "data": self.shared.socket_data(self.path(), &id),
            // socketioxide keeps the handshake in the socket, out of the adapter's reach.
            "handshake": {
                "headers": {}, "time": "", "address": "", "xdomain": false, "secure": false,
                "issued": 0, "url": "", "query": {}, "auth": {},
            },
        })
    }

    fn on_server_side_emit(&self, m: &Message) {
        let Some(Json::Array(mut data)) = m.data.clone() else {
            tracing::warn!("server-side emit without data skipped");
            return;
        };
        if !matches!(data.first(), Some(Json::String(_))) {
            tracing::warn!("server-side emit without an event name skipped");
            return;
        }
        let Json::String(event) = data.remove(0) else {
            return;
        };
        let Some(handler) = self.shared.handler(self.path()) else {
            tracing::debug!(event, "server-side emit with no handler for this namespace");
            return;
        };
        let ack = m.request_id.clone().map(|request_id| ServerSideAck {
            shared: self.shared.clone(),
            channel: self.channels.response.clone(),
            request_id,
        });
        handler(ServerSideEvent {
            ns: self.path().to_owned(),
            event,
            args: data,
            ack,
        });
    }

    fn on_broadcast_with_ack(&self, decoded: crate::protocol::Decoded) {
        let m = decoded.message;
        let Some(packet) = m
            .packet
            .clone()
            .and_then(|p| serde_json::from_value::<NodePacket>(p).ok())
        else {
            tracing::warn!("broadcast with acks without a packet skipped");
            return;
        };
        if !is_event_data(&packet.data) {
            tracing::warn!("broadcast with acks without an event name skipped");
            return;
        }
        let opts = m.opts.clone().unwrap_or_default();
        let timeout = opts
            .flags
            .as_ref()
            .and_then(|f| f.timeout)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map_or_else(
                || self.local.ack_timeout(),
                |ms| Duration::from_millis(ms as u64),
            );
        let packet = packet::from_node(self.form, self.path(), &packet.data, decoded.bins);
        let (acks, count) =
            self.local
                .broadcast_with_ack(packet, opts.to_broadcast_options(), Some(timeout));
        let shared = self.shared.clone();
        let channel = match (&m.uid, shared.config.specific_response_channel) {
            (Some(uid), true) => format!("{}{uid}#", self.channels.response),
            _ => self.channels.response.clone(),
        };
        let mut acks = Box::pin(acks);
        tokio::spawn(async move {
            let count_msg = json!({
                "type": RequestType::BroadcastClientCount as u8,
                "requestId": m.request_id,
                "clientCount": count,
            });
            if let Err(e) = shared.publish(&channel, json_bytes(&count_msg)).await {
                tracing::warn!("client count for another node lost: {e}");
                return;
            }
            while let Some((_, ack)) = acks.next().await {
                let Ok(value) = ack else { continue };
                let arg = first_ack_arg(&value);
                let msg = json!({
                    "type": RequestType::BroadcastAck as u8,
                    "requestId": m.request_id,
                    "packet": arg.json,
                });
                if let Err(e) = shared
                    .publish(&channel, wire::encode(&msg, &arg.bins))
                    .await
                {
                    tracing::warn!("acknowledgement for another node lost: {e}");
                }
            }
        });
    }
}
