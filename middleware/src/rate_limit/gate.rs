//! [`RateLimitGate`]: a rate limit checked as events arrive, before they are queued.

use std::sync::Arc;

use iostack_core::{BoxError, EventGate, EventRequest};

use super::{LimiterState, OnLimit, RateLimitLayer, RateLimited};

/// A [`RateLimitLayer`] used as an [`EventGate`]: an event over the limit is refused as it
/// arrives, before it takes a place in the socket's queue, so a flood is turned away even while
/// the socket's handlers are slow. Prefer it to the layer for limits meant to protect the server.
///
/// ```
/// use std::time::Duration;
/// use iostack_core::App;
/// use iostack_middleware::rate_limit::RateLimitLayer;
///
/// let builder = App::builder(())
///     .gate(RateLimitLayer::per_socket(100, Duration::from_secs(60)).into_gate());
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitGate<F = ()> {
    state: Arc<LimiterState>,
    on_limit: F,
}

impl<F> RateLimitLayer<F> {
    /// This limit as an [`EventGate`], for [`AppBuilder::gate`](iostack_core::AppBuilder::gate).
    pub fn into_gate(self) -> RateLimitGate<F> {
        RateLimitGate {
            state: Arc::new(LimiterState::new(self.quota, self.key, self.proxies)),
            on_limit: self.on_limit,
        }
    }
}

impl<F: OnLimit> EventGate for RateLimitGate<F> {
    fn check(&self, req: &EventRequest) -> Result<(), BoxError> {
        if self.state.allow(req) {
            Ok(())
        } else {
            tracing::debug!(socket.id = %req.socket().id, event = req.event(), "rate limited");
            self.on_limit.on_limit(req);
            Err(RateLimited.into())
        }
    }
}
