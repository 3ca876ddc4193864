//! What this node asks of the others: the requests and messages behind [`NodeCompatAdapter`]'s
//! cluster-wide operations, in the Node adapter's format.

use std::{borrow::Cow, time::Duration};

use futures_util::{StreamExt, stream::BoxStream};
use serde_json::{Value as Json, json};
use socketioxide_core::{
    Sid,
    adapter::{AckStreamItem, BroadcastFlags, BroadcastOptions, Room, SocketEmitter},
};

use crate::{
    adapter::NodeCompatAdapter,
    cluster::PendingRequest,
    error::Error,
    protocol::{RequestType, json_bytes, opts_json},
};

impl<E: SocketEmitter> NodeCompatAdapter<E> {
    pub(crate) fn path(&self) -> &str {
        self.local.path()
    }

    /// The socket id a [`RemoteSocket`](socketioxide::extract::SocketRef) operation targets on
    /// another node, when `opts` select exactly that socket.
    pub(crate) fn remote_target(&self, opts: &BroadcastOptions) -> Option<String> {
        let targets_one = !opts.has_flag(BroadcastFlags::Broadcast) && opts.rooms.is_empty();
        match (targets_one, opts.sid, opts.server_id) {
            (true, Some(sid), Some(server)) if server != self.local.server_id() => {
                Some(self.shared.resolve(sid))
            }
            _ => None,
        }
    }

    /// `rooms` and `except` as the Node adapter sends them: the sender of a `broadcast()` is
    /// excluded through the room of its own id.
    pub(crate) fn wire_rooms(
        &self,
        opts: &BroadcastOptions,
    ) -> (Vec<Cow<'static, str>>, Vec<Cow<'static, str>>) {
        if let Some(target) = self.remote_target(opts) {
            return (vec![Cow::Owned(target)], Vec::new());
        }
        let mut except: Vec<Room> = opts.except.to_vec();
        if let (true, Some(sid)) = (opts.has_flag(BroadcastFlags::Broadcast), opts.sid) {
            except.push(Cow::Owned(sid.to_string()));
        }
        (opts.rooms.to_vec(), except)
    }

    pub(crate) fn is_local(&self, opts: &BroadcastOptions) -> bool {
        opts.is_local(self.local.server_id())
    }

    async fn publish_request(&self, body: Json) -> Result<(), Error> {
        self.shared
            .publish(&self.channels.request, json_bytes(&body))
            .await
    }

    /// A socket-set request (`socketsJoin`, `socketsLeave`, `disconnectSockets`) for the others.
    pub(crate) async fn publish_socket_set(
        &self,
        kind: RequestType,
        opts: &BroadcastOptions,
        extra: (&str, Json),
    ) -> Result<(), Error> {
        let (rooms, except) = self.wire_rooms(opts);
        let mut body = json!({
            "uid": self.shared.uid,
            "type": kind as u8,
            "opts": opts_json(&rooms, &except),
        });
        body[extra.0] = extra.1;
        self.publish_request(body).await
    }

    /// Sockets of the other nodes selected by `opts`, as their nodes describe them.
    pub(crate) async fn remote_sockets(&self, opts: &BroadcastOptions) -> Result<Vec<Json>, Error> {
        let expected = self.shared.other_nodes(&self.channels.request).await?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let (rooms, except) = self.wire_rooms(opts);
        let pending = self.shared.pending();
        self.publish_request(json!({
            "uid": self.shared.uid,
            "requestId": pending.id,
            "type": RequestType::RemoteFetch as u8,
            "opts": opts_json(&rooms, &except),
        }))
        .await?;
        let responses = self
            .shared
            .collect(pending, expected, "fetchSockets")
            .await?;
        Ok(responses
            .into_iter()
            .flat_map(|r| r.message.sockets.unwrap_or_default())
            .collect())
    }

    pub(crate) async fn remote_rooms(&self) -> Result<Vec<String>, Error> {
        let expected = self.shared.other_nodes(&self.channels.request).await?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let pending = self.shared.pending();
        self.publish_request(json!({
            "uid": self.shared.uid,
            "requestId": pending.id,
            "type": RequestType::AllRooms as u8,
        }))
        .await?;
        let responses = self.shared.collect(pending, expected, "allRooms").await?;
        Ok(responses
            .into_iter()
            .filter_map(|r| r.message.rooms)
            .flatten()
            .map(|r| r.0)
            .collect())
    }

    pub(crate) fn remote_acks(
        &self,
        pending: PendingRequest,
        servers: usize,
        timeout: Duration,
    ) -> BoxStream<'static, AckStreamItem<E::AckError>> {
        let form = self.form;
        let deadline = tokio::time::Instant::now() + timeout;
        futures_util::stream::unfold(
            (pending, servers, 0u64),
            move |(mut pending, mut servers, mut acks)| async move {
                loop {
                    if servers == 0 && acks == 0 {
                        return None;
                    }
                    let response = tokio::time::timeout_at(deadline, pending.rx.recv())
                        .await
                        .ok()??;
                    match response.message.kind() {
                        Some(RequestType::BroadcastClientCount) => {
                            servers = servers.saturating_sub(1);
                            acks += response.message.client_count.unwrap_or(0);
                        }
                        Some(RequestType::BroadcastAck) => {
                            acks = acks.saturating_sub(1);
                            let arg = response.message.packet.unwrap_or(Json::Null);
                            let value = form.value(&Json::Array(vec![arg]), response.bins);
                            return Some(((Sid::new(), Ok(value)), (pending, servers, acks)));
                        }
                        _ => {}
                    }
                }
            },
        )
        .boxed()
    }
}
