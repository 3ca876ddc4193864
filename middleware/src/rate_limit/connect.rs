//! [`ConnectRateLimitLayer`]: a limit on connection attempts per client IP.

use std::{
    net::IpAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use iostack_core::{BoxError, ConnectRequest, socketioxide::adapter::Adapter as IoAdapter};
use tower_layer::Layer;
use tower_service::Service;

use super::quota::{SharedLimiter, quota};
use crate::future::ResponseFuture;

/// Why a connection attempt was refused; the `Display` is the client's `connect_error` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Too many connection attempts. Please try again later.")]
pub struct TooManyConnections;

/// Limits connection attempts per client IP, for the connect stack.
#[derive(Debug, Clone)]
pub struct ConnectRateLimitLayer {
    count: u32,
    per: Duration,
    burst: u32,
}

impl ConnectRateLimitLayer {
    /// `count` attempts per `per` from each IP, with a burst of `count`.
    pub fn per_ip(count: u32, per: Duration) -> Self {
        Self {
            count,
            per,
            burst: count,
        }
    }

    /// Allows up to `burst` attempts at once.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }
}

impl<S> Layer<S> for ConnectRateLimitLayer {
    type Service = ConnectRateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectRateLimit {
            inner,
            limiter: Arc::new(SharedLimiter::new(quota(self.count, self.per, self.burst))),
        }
    }
}

/// The service of [`ConnectRateLimitLayer`].
#[derive(Debug, Clone)]
pub struct ConnectRateLimit<S> {
    inner: S,
    limiter: Arc<SharedLimiter<IpAddr>>,
}

impl<S, A> Service<ConnectRequest<A>> for ConnectRateLimit<S>
where
    A: IoAdapter,
    S: Service<ConnectRequest<A>, Response = ConnectRequest<A>>,
    S::Error: Into<BoxError>,
{
    type Response = ConnectRequest<A>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: ConnectRequest<A>) -> Self::Future {
        match req.peer().map(|p| p.ip()) {
            Some(ip) if !self.limiter.allow(&ip) => {
                tracing::warn!(%ip, ns = req.ns(), "too many connection attempts");
                ResponseFuture::refused(TooManyConnections)
            }
            _ => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}
