//! Acknowledged broadcasts: which sockets refused the message is known only from the stream of
//! acknowledgements, so [`CountedAcks`] counts those refusals as the stream is read.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use futures_util::{Stream, StreamExt, stream::FusedStream};
use socketioxide::{AckError, SocketError};
use socketioxide_core::Str;

use super::Deliveries;
use crate::AnyAckStream;

/// An acknowledgement stream that counts, in the app's [`Deliveries`], every socket whose full
/// queue refused the message: local sockets and, on Redis or MongoDB, other nodes' sockets
/// (whose nodes do not count the refusal). The refusals read are counted when the stream ends or
/// is dropped.
pub(crate) struct CountedAcks {
    inner: AnyAckStream,
    deliveries: Deliveries,
    ns: Str,
    refused: usize,
}

impl CountedAcks {
    pub(crate) fn new(inner: AnyAckStream, deliveries: Deliveries, ns: Str) -> Self {
        Self {
            inner,
            deliveries,
            ns,
            refused: 0,
        }
    }

    /// Adds the refusals read so far to the app's count.
    fn add_refused(&mut self) {
        self.deliveries
            .add(&self.ns, std::mem::take(&mut self.refused));
    }
}

impl Stream for CountedAcks {
    type Item = <AnyAckStream as Stream>::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.inner.poll_next_unpin(cx));
        match &item {
            Some((_, Err(AckError::Socket(SocketError::InternalChannelFull)))) => self.refused += 1,
            Some(_) => {}
            None => self.add_refused(),
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl FusedStream for CountedAcks {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl Drop for CountedAcks {
    fn drop(&mut self) {
        self.add_refused();
    }
}
