//! IP allowlist (or denylist) for the connect stack, and as an HTTP layer before the upgrade.
//!
//! ```
//! use iostack_core::App;
//! use iostack_middleware::ip_allowlist::IpAllowlistLayer;
//!
//! # fn build() -> Result<(), iostack_middleware::ip_allowlist::InvalidEntry> {
//! let allow = IpAllowlistLayer::new(["127.0.0.1", "::1", "192.168.1.0/24"])?
//!     .trusted_proxies(["10.0.0.1"])?; // honour X-Forwarded-For / Forwarded from this proxy only
//! let builder = App::builder(()).on_connect(allow);
//! # Ok(()) }
//! ```
//!
//! Entries are single addresses or CIDR ranges, IPv4 or IPv6; an IPv4-mapped IPv6 peer
//! (`::ffff:192.168.1.7`) matches its IPv4 entries. An invalid entry fails construction with an
//! error naming it. A refused connection reads `IP not whitelisted` and is logged with its address.
//!
//! The same layer wraps an HTTP service (an axum router, the socket.io layer): refused requests get
//! `403 Forbidden` before any Engine.IO work. The peer comes from axum's `ConnectInfo<SocketAddr>`,
//! which `App::serve` records.

mod list;

pub use list::{InvalidEntry, IpList};

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use axum::extract::ConnectInfo;
use iostack_core::{BoxError, ConnectRequest};
use tower_layer::Layer;

use crate::future::ResponseFuture;
use tower_service::Service;

/// Why a connection was refused; the `Display` is what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    /// The client address is not allowed (or is denied, in denylist mode).
    #[error("IP not whitelisted")]
    NotAllowed,
}

#[derive(Debug)]
struct Rules {
    list: IpList,
    deny: bool,
    proxies: IpList,
}

impl Rules {
    /// Whether a request from `peer` with these headers may pass; logs refusals.
    fn admits(&self, peer: Option<IpAddr>, headers: &http::HeaderMap) -> bool {
        let Some(peer) = peer else {
            tracing::warn!("peer address unknown: refusing (serve with ConnectInfo<SocketAddr>)");
            return false;
        };
        let client = self.proxies.client_ip(peer, headers);
        let admitted = self.list.contains(client) != self.deny;
        if !admitted {
            let ip = list::canonical(client);
            tracing::warn!(%ip, %peer, "Blocked connection from {ip}");
        }
        admitted
    }
}

/// Admits connections from listed addresses only (or refuses listed ones, with [`denylist`](Self::denylist)).
#[derive(Debug, Clone)]
pub struct IpAllowlistLayer {
    rules: Arc<Rules>,
}

impl IpAllowlistLayer {
    /// Admits only these addresses and ranges.
    pub fn new<I, E>(entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        Ok(Self::from_list(IpList::parse(entries)?, false))
    }

    /// Refuses these addresses and ranges, admits everything else.
    pub fn denylist<I, E>(entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        Ok(Self::from_list(IpList::parse(entries)?, true))
    }

    fn from_list(list: IpList, deny: bool) -> Self {
        Self {
            rules: Arc::new(Rules {
                list,
                deny,
                proxies: IpList::default(),
            }),
        }
    }

    /// Trusts `X-Forwarded-For` / `Forwarded` only when the direct peer is one of these proxies.
    pub fn trusted_proxies<I, E>(self, entries: I) -> Result<Self, InvalidEntry>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<str>,
    {
        let proxies = IpList::parse(entries)?;
        Ok(Self {
            rules: Arc::new(Rules {
                list: self.rules.list.clone(),
                deny: self.rules.deny,
                proxies,
            }),
        })
    }
}

impl<S> Layer<S> for IpAllowlistLayer {
    type Service = IpAllowlist<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IpAllowlist {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service of [`IpAllowlistLayer`], for the connect stack or for HTTP requests.
#[derive(Debug, Clone)]
pub struct IpAllowlist<S> {
    inner: S,
    rules: Arc<Rules>,
}

impl<S> Service<ConnectRequest> for IpAllowlist<S>
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
        if self.rules.admits(req.peer().map(|p| p.ip()), req.headers()) {
            ResponseFuture::inner(self.inner.call(req))
        } else {
            ResponseFuture::refused(IpError::NotAllowed)
        }
    }
}

impl<S, B, R> Service<http::Request<B>> for IpAllowlist<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: From<&'static str> + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = iostack_core::BoxFuture<'static, Result<http::Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if self.rules.admits(peer, req.headers()) {
            Box::pin(self.inner.call(req))
        } else {
            let mut refused = http::Response::new(R::from("IP not whitelisted"));
            *refused.status_mut() = http::StatusCode::FORBIDDEN;
            Box::pin(std::future::ready(Ok(refused)))
        }
    }
}
