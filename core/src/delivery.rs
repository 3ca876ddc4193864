//! Messages that could not be delivered: counted, never lost silently.
//!
//! socketioxide queues a bounded number of messages per socket (`max_buffer_size`, 1024 in iostack
//! apps; 128 in socketioxide) and refuses more while a client does not keep up. A refused message
//! surfaces as a `BroadcastError` from the emit call. iostack counts every such refusal it sees —
//! from its own emits ([`Io`](crate::Io) helpers, shutdown notices), from handlers that return the
//! error, and from emits passed through [`checked`] — in a process-wide counter that monitoring
//! reports as `iostack_dropped_messages_total`.

use std::sync::atomic::{AtomicU64, Ordering};

use socketioxide::{BroadcastError, SocketError};

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Messages refused by full socket buffers since the process started.
pub fn dropped_messages() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Counts the messages `result` says were not delivered, and hands the result back.
///
/// ```
/// # async fn run(socket: iostack_core::extract::SocketRef) {
/// use iostack_core::delivery::checked;
///
/// let _ = checked(socket.within("lobby").emit("news", &"hi").await);
/// # }
/// ```
pub fn checked(result: Result<(), BroadcastError>) -> Result<(), BroadcastError> {
    if let Err(e) = &result {
        record(e);
    }
    result
}

/// Counts the dropped messages of `error`; returns how many it counted.
pub(crate) fn record(error: &BroadcastError) -> usize {
    let BroadcastError::Socket(errors) = error else {
        return 0;
    };
    let dropped = errors
        .iter()
        .filter(|e| matches!(e, SocketError::InternalChannelFull))
        .count();
    if dropped > 0 {
        DROPPED.fetch_add(dropped as u64, Ordering::Relaxed);
        tracing::warn!(
            dropped,
            total = dropped_messages(),
            "messages dropped: socket buffers full"
        );
    }
    dropped
}
