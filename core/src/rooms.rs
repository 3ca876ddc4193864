//! The rooms core keeps for every authenticated socket, and the `get-rooms` handler.
//!
//! Every socket with an identity joins `user-{id}` and `role-{role}` at admission, in every
//! namespace: [`Io::kick_user`](crate::Io::kick_user) and
//! [`Io::broadcast_to_role`](crate::Io::broadcast_to_role) find sockets through them. Rooms from
//! claims (`premium`, `country-{c}`) come from the middleware crate's auto-join layer.

use crate::extract::{AckSender, SocketRef};

/// The room every socket of user `id` joins: `user-{id}`.
pub fn user_room(id: &str) -> String {
    format!("user-{id}")
}

/// The room every socket of a user with `role` joins: `role-{role}`.
pub fn role_room(role: &str) -> String {
    format!("role-{role}")
}

/// Handler for a `get-rooms` event: acknowledges with the socket's rooms, sorted.
///
/// Register it with `.on("get-rooms", iostack_core::rooms::get_rooms)`.
pub async fn get_rooms(socket: SocketRef, ack: AckSender) {
    let mut rooms: Vec<String> = socket.rooms().into_iter().map(|r| r.to_string()).collect();
    rooms.sort();
    if let Err(e) = ack.send(&rooms) {
        tracing::debug!(socket.id = %socket.id, "get-rooms ack not sent: {e}");
    }
}
