//! Rate limiting: GCRA quotas (the `governor` crate) for the event stack, and for connection attempts.
//!
//! ```
//! use std::time::Duration;
//! use iostack_core::{App, EventRequest};
//! use iostack_middleware::rate_limit::{ConnectRateLimitLayer, RateLimitLayer};
//!
//! let events = RateLimitLayer::per_socket(100, Duration::from_secs(60))
//!     .burst(20)
//!     .on_limit(|req: &EventRequest| tracing::warn!(socket.id = %req.socket().id, "slow down"));
//! let builder = App::builder(())
//!     .on_connect(ConnectRateLimitLayer::per_ip(30, Duration::from_secs(60)))
//!     .on_event(events);
//! ```
//!
//! An event over the limit is not handled: the client reads `Too many requests. Please slow down.`
//! (an error ack if it asked for one, else an `error` event), and the `on_limit` callback runs.
//! Tokens refill evenly over the interval, so events pass again shortly after.
//!
//! Per-socket state lives in the socket and goes with it when it disconnects. Per-identity and
//! per-IP state is shared between sockets; keys idle for a whole refill period are dropped, so
//! memory does not grow with churn.

mod connect;
mod gate;
mod quota;

pub use connect::{ConnectRateLimit, ConnectRateLimitLayer, TooManyConnections};
pub use gate::RateLimitGate;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::extract::ConnectInfo;
use governor::Quota;
use iostack_core::{BoxError, EventRequest, Identity};
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    future::ResponseFuture,
    ip_allowlist::{InvalidEntry, IpList},
};
use quota::{DirectLimiter, SharedLimiter};

/// Why an event was not handled; the `Display` is what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Too many requests. Please slow down.")]
pub struct RateLimited;

/// Runs when an event is refused by a [`RateLimitLayer`]: log it, count it, disconnect the socket...
pub trait OnLimit: Clone + Send + Sync + 'static {
    /// Called with the refused event, before the client is told.
    fn on_limit(&self, req: &EventRequest);
}

impl OnLimit for () {
    fn on_limit(&self, _: &EventRequest) {}
}

impl<F> OnLimit for F
where
    F: Fn(&EventRequest) + Clone + Send + Sync + 'static,
{
    fn on_limit(&self, req: &EventRequest) {
        self(req)
    }
}

/// Whose events share a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyBy {
    Socket,
    Identity,
    Ip,
}

/// Limits the events of the event stack: `count` per interval, with a burst, per socket by default.
#[derive(Debug, Clone)]
pub struct RateLimitLayer<F = ()> {
    quota: Quota,
    key: KeyBy,
    proxies: Arc<IpList>,
    on_limit: F,
}

impl RateLimitLayer {
    /// `count` events per `per` for each socket, with a burst of `count`.
    pub fn per_socket(count: u32, per: Duration) -> Self {
        Self {
            quota: quota::quota(count, per, count),
            key: KeyBy::Socket,
            proxies: Arc::default(),
            on_limit: (),
        }
    }
}

impl<F> RateLimitLayer<F> {
    /// Allows up to `burst` events at once (default: the count); the refill rate is unchanged.
    pub fn burst(mut self, burst: u32) -> Self {
        let burst = std::num::NonZeroU32::new(burst.max(1)).expect("at least one");
        self.quota = self.quota.allow_burst(burst);
        self
    }

    /// One quota per authenticated user, shared by their sockets (sockets without identity: per socket).
    pub fn per_identity(mut self) -> Self {
        self.key = KeyBy::Identity;
        self
    }

    /// One quota per client IP, shared by its sockets.
    pub fn per_ip(mut self) -> Self {
        self.key = KeyBy::Ip;
        self
    }

    /// With [`per_ip`](Self::per_ip): trusts `X-Forwarded-For` / `Forwarded` only when the direct
    /// peer is one of these proxies, as [`IpAllowlistLayer`](crate::ip_allowlist::IpAllowlistLayer) does.
    pub fn trusted_proxies<I, E>(mut self, entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        self.proxies = Arc::new(IpList::parse(entries)?);
        Ok(self)
    }

    /// Runs `on_limit` for every refused event.
    pub fn on_limit<G>(self, on_limit: G) -> RateLimitLayer<G> {
        RateLimitLayer {
            quota: self.quota,
            key: self.key,
            proxies: self.proxies,
            on_limit,
        }
    }
}

impl<S, F: Clone> Layer<S> for RateLimitLayer<F> {
    type Service = RateLimit<S, F>;

    /// Each stack built from this layer gets its own limiter state.
    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            state: Arc::new(LimiterState::new(
                self.quota,
                self.key,
                self.proxies.clone(),
            )),
            on_limit: self.on_limit.clone(),
        }
    }
}

fn next_layer_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug)]
struct LimiterState {
    id: u64,
    quota: Quota,
    key: KeyBy,
    proxies: Arc<IpList>,
    shared: SharedLimiter<String>,
}

/// A rate-limit layer's id and its limiter for one socket.
type LayerLimiter = (u64, Arc<DirectLimiter>);

/// The per-socket limiters of every rate-limit layer, kept in the socket's extensions.
#[derive(Clone, Default)]
struct SocketLimiters(Arc<Mutex<Vec<LayerLimiter>>>);

impl LimiterState {
    fn new(quota: Quota, key: KeyBy, proxies: Arc<IpList>) -> Self {
        Self {
            id: next_layer_id(),
            quota,
            key,
            proxies,
            shared: SharedLimiter::new(quota),
        }
    }

    fn allow(&self, req: &EventRequest) -> bool {
        let socket = req.socket();
        let key = match self.key {
            KeyBy::Identity => socket
                .extensions
                .get::<Identity>()
                .map(|i| format!("user:{}", i.id)),
            KeyBy::Ip => {
                let parts = socket.req_parts();
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| format!("ip:{}", self.proxies.client_ip(c.0.ip(), &parts.headers)))
            }
            KeyBy::Socket => None,
        };
        if let Some(key) = key {
            return self.shared.allow(&key);
        }
        let limiters = match socket.extensions.get::<SocketLimiters>() {
            Some(limiters) => limiters,
            None => {
                let limiters = SocketLimiters::default();
                socket.extensions.insert(limiters.clone());
                limiters
            }
        };
        let limiter = {
            let mut list = limiters.0.lock().unwrap_or_else(|e| e.into_inner());
            match list.iter().find(|(id, _)| *id == self.id) {
                Some((_, limiter)) => limiter.clone(),
                None => {
                    let limiter = Arc::new(DirectLimiter::direct(self.quota));
                    list.push((self.id, limiter.clone()));
                    limiter
                }
            }
        };
        limiter.check().is_ok()
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S, F> {
    inner: S,
    state: Arc<LimiterState>,
    on_limit: F,
}

impl<S, F> Service<EventRequest> for RateLimit<S, F>
where
    F: OnLimit,
    S: Service<EventRequest, Response = ()>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: EventRequest) -> Self::Future {
        if self.state.allow(&req) {
            ResponseFuture::inner(self.inner.call(req))
        } else {
            tracing::debug!(socket.id = %req.socket().id, event = req.event(), "rate limited");
            self.on_limit.on_limit(&req);
            ResponseFuture::refused(RateLimited)
        }
    }
}
