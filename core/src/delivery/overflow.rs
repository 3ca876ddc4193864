//! [`Overflow`]: what a broadcast does with a local socket whose queue is full, and the offering
//! of a message socket by socket that the [`Overflow::Wait`] policy needs.

use std::time::Duration;

use socketioxide::{SocketError, adapter::Emitter};
use socketioxide_core::{
    Sid,
    adapter::{BroadcastOptions, CoreLocalAdapter},
    packet::Packet,
};
use tokio::time::Instant;

/// What a broadcast from this node does when a local socket's queue is full, i.e. when
/// [`max_buffer_size`](crate::AppBuilder::max_buffer_size) messages already wait for its client.
/// Set per app with [`AppBuilder::overflow`](crate::AppBuilder::overflow).
///
/// Either way, a message a socket never took is counted in [`Deliveries`](super::Deliveries) and
/// returned as `InternalChannelFull` by the emit. A client that stops reading altogether is
/// disconnected at the [send timeout](crate::ServerLimits::send_timeout), whatever the policy.
///
/// ```
/// use std::time::Duration;
/// use iostack_core::{App, delivery::Overflow};
///
/// # async fn build() -> Result<(), iostack_core::BuildError> {
/// let app = App::builder(())
///     .overflow(Overflow::Wait(Duration::from_millis(500)))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// The message is dropped for that socket, and counted (the default). A broadcast never
    /// waits.
    #[default]
    DropNewest,
    /// The broadcast waits, up to this long, for each full socket to make room, offering it the
    /// message again every [`RETRY`]; what is still refused then is dropped and counted. The
    /// emit's future returns when every socket took the message or the bound passed, so a burst
    /// is paced by the slowest client instead of losing messages; a handler that emits waits as
    /// long, and so do the socket's later events.
    ///
    /// The broadcast then hands the message to each local socket in turn (it encodes it once per
    /// socket instead of once: about 0.8× the default's broadcast throughput, see
    /// `benches/README.md`), and a socket that must wait may take a message from another task's
    /// later broadcast before this one: one task's broadcasts keep their order. Volatile and
    /// acknowledged broadcasts are never waited for.
    Wait(Duration),
    /// The message is dropped and counted, and the slow consumer is disconnected: the server
    /// closes its websocket connection at once, as it closes one at the send timeout (socket.io's
    /// own disconnect would have to queue a packet behind the full queue). Its sockets in every
    /// namespace end with [`TransportError`](socketioxide::socket::DisconnectReason), the
    /// disconnect hooks run, and the official clients reconnect and start afresh. Each one is
    /// counted in [`Deliveries::slow_consumers_disconnected`](super::Deliveries) and monitoring
    /// (`iostack_slow_consumers_disconnected_total`), and logged as a warning saying why.
    ///
    /// What was already queued for that client when its connection closed is lost with the
    /// connection (up to `max_buffer_size` messages, not counted: socketioxide does not tell how
    /// many wait), so a client should fetch the state it missed when it reconnects.
    ///
    /// Broadcasts then hand the message to each local socket in turn, as under [`Overflow::Wait`]
    /// (about 0.8× the default's broadcast throughput), so that a refusal names its socket.
    /// Volatile and acknowledged broadcasts never disconnect.
    ///
    /// It applies to websocket connections served by [`App::serve`](crate::App::serve) or
    /// [`serve_with_shutdown`](crate::App::serve_with_shutdown), which then record each session's
    /// connection (about 0.2 KiB per idle connection; the other policies record nothing). A
    /// polling client's message is dropped and counted only: one that stops polling misses its
    /// heartbeats and is closed at the ping timeout.
    Disconnect,
}

/// How often a waiting broadcast offers its message again to a full socket.
pub const RETRY: Duration = Duration::from_millis(10);

/// Hands `packet` to each of `sids` alone. Returns the sockets whose queue was full, and what the
/// others refused for another reason (e.g. a socket that closed meanwhile).
pub(crate) fn offer(
    local: &CoreLocalAdapter<Emitter>,
    packet: &Packet,
    sids: impl IntoIterator<Item = Sid>,
) -> (Vec<Sid>, Vec<SocketError>) {
    let mut full = Vec::new();
    let mut other = Vec::new();
    for sid in sids {
        if let Err(errors) = local.broadcast(packet.clone(), BroadcastOptions::new(sid)) {
            for error in errors {
                match error {
                    SocketError::InternalChannelFull => full.push(sid),
                    error => other.push(error),
                }
            }
        }
    }
    (full, other)
}

/// Offers `packet` again to the `full` sockets every [`RETRY`] until each took it or `bound`
/// passed. Returns how many never took it.
pub(crate) async fn offer_until(
    local: &CoreLocalAdapter<Emitter>,
    packet: &Packet,
    full: Vec<Sid>,
    bound: Duration,
) -> usize {
    // A socket that closed meanwhile is no longer waited for, nor counted.
    let still_full = |sid: &Sid| !offer(local, packet, [*sid]).0.is_empty();
    super::offer_again_until(full, Instant::now() + bound, RETRY, still_full)
        .await
        .len()
}
