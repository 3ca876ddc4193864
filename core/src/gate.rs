//! [`EventGate`]: checks that run on every incoming event before it is queued.

use std::sync::Arc;

use crate::{BoxError, EventRequest};

/// A cheap, synchronous check of each incoming event, run as the event arrives and before it
/// takes a place in the socket's queue: what a gate refuses costs no queue slot and no handler
/// time, so a flood is turned away even while the socket's handlers are slow.
///
/// Gates apply to every namespace; add them with [`AppBuilder::gate`](crate::AppBuilder::gate).
/// A refusal reaches the client like any refused event (error ack or `error` event with the
/// error's text). The event stack still runs for admitted events.
///
/// ```
/// use iostack_core::{App, BoxError, EventGate, EventRequest};
///
/// struct NoLongNames;
///
/// impl EventGate for NoLongNames {
///     fn check(&self, req: &EventRequest) -> Result<(), BoxError> {
///         if req.event().len() > 64 { Err("Event name too long".into()) } else { Ok(()) }
///     }
/// }
///
/// let builder = App::builder(()).gate(NoLongNames);
/// ```
pub trait EventGate: Send + Sync + 'static {
    /// `Ok` lets the event through to the queue; `Err` refuses it with the error's text.
    fn check(&self, req: &EventRequest) -> Result<(), BoxError>;
}

/// The gates of an app, in the order they were added.
pub(crate) struct Gates(Arc<[Arc<dyn EventGate>]>);

impl Clone for Gates {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Gates {
    pub(crate) fn new(gates: Vec<Arc<dyn EventGate>>) -> Self {
        Self(gates.into())
    }

    /// The first refusal, if any gate refuses.
    pub(crate) fn check(&self, req: &EventRequest) -> Result<(), BoxError> {
        self.0.iter().try_for_each(|gate| gate.check(req))
    }
}
