//! [`ConnectRateLimitLayer`]: a limit on connection attempts per client IP.

use std::{
    net::IpAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use iostack_core::{BoxError, ConnectRequest};
use tower_layer::Layer;
use tower_service::Service;

use super::quota::{SharedLimiter, quota};
use crate::{
    future::ResponseFuture,
    ip_allowlist::{InvalidEntry, IpList},
};

/// Why a connection attempt was refused; the `Display` is the client's `connect_error` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Too many connection attempts. Please try again later.")]
pub struct TooManyConnections;

/// Limits connection attempts per client IP, for the connect stack.
///
/// One budget per IP across every namespace the layer guards (an app-wide layer wraps each
/// namespace's stack; they share the limiter). Behind a reverse proxy, name it with
/// [`trusted_proxies`](Self::trusted_proxies): the client address is then read from
/// `X-Forwarded-For` / `Forwarded` exactly as [`IpAllowlistLayer`](crate::ip_allowlist::IpAllowlistLayer)
/// reads it, and forwarding headers of any other peer are ignored.
#[derive(Debug, Clone)]
pub struct ConnectRateLimitLayer {
    count: u32,
    per: Duration,
    limiter: Arc<SharedLimiter<IpAddr>>,
    proxies: Arc<IpList>,
}

impl ConnectRateLimitLayer {
    /// `count` attempts per `per` from each IP, with a burst of `count`.
    pub fn per_ip(count: u32, per: Duration) -> Self {
        Self {
            count,
            per,
            limiter: Arc::new(SharedLimiter::new(quota(count, per, count))),
            proxies: Arc::default(),
        }
    }

    /// Allows up to `burst` attempts at once.
    pub fn burst(mut self, burst: u32) -> Self {
        self.limiter = Arc::new(SharedLimiter::new(quota(self.count, self.per, burst)));
        self
    }

    /// Trusts `X-Forwarded-For` / `Forwarded` only when the direct peer is one of these proxies.
    pub fn trusted_proxies<I, E>(mut self, entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        self.proxies = Arc::new(IpList::parse(entries)?);
        Ok(self)
    }
}

impl<S> Layer<S> for ConnectRateLimitLayer {
    type Service = ConnectRateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectRateLimit {
            inner,
            limiter: self.limiter.clone(),
            proxies: self.proxies.clone(),
        }
    }
}

/// The service of [`ConnectRateLimitLayer`].
#[derive(Debug, Clone)]
pub struct ConnectRateLimit<S> {
    inner: S,
    limiter: Arc<SharedLimiter<IpAddr>>,
    proxies: Arc<IpList>,
}

impl<S> Service<ConnectRequest> for ConnectRateLimit<S>
where
    S: Service<ConnectRequest, Response = ConnectRequest>,
    S::Error: Into<BoxError>,
{
    type Response = ConnectRequest;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: ConnectRequest) -> Self::Future {
        let client = req
            .peer()
            .map(|p| self.proxies.client_ip(p.ip(), req.headers()));
        match client {
            Some(ip) if !self.limiter.allow(&ip) => {
                tracing::warn!(%ip, ns = req.ns(), "too many connection attempts");
                ResponseFuture::refused(TooManyConnections)
            }
            _ => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}
