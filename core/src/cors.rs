//! [`Cors`]: which browser origins may reach the server, enforced with tower-http's `CorsLayer`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use iostack_core::{App, cors::Cors};
//!
//! let app = App::builder(())
//!     .build()
//!     .await?
//!     .cors(Cors::origins(["https://app.example.com"]).allow_credentials(true));
//! app.serve(iostack_core::bind("127.0.0.1:3000").await?).await?;
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//! - The CORS headers (preflight answers, `Access-Control-Allow-Origin`, `Vary`) come from
//!   `tower_http::cors::CorsLayer`; nothing here writes them by hand.
//! - Browsers enforce CORS on polling requests but not on websocket upgrades, so the server checks
//!   the `Origin` header itself: a request (preflight, polling or websocket upgrade) whose `Origin` is
//!   neither allowed nor the server's own origin (same scheme-less host as the `Host` header) is
//!   refused with `403 Forbidden`, and a `warn` log line names the refused origin.
//! - Requests without an `Origin` header (non-browser clients, same-origin `GET`s) pass: CORS is a
//!   browser protection, not authentication.
//! - `Cors::default()` allows no other origin at all.

use std::{fmt, sync::Arc, time::Duration};

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

type OriginPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Which cross-origin browsers may use the server, and whether they may send cookies.
///
/// Install it with [`App::cors`](crate::App::cors).
#[derive(Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
    predicate: Option<OriginPredicate>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("origins", &self.origins)
            .field("predicate", &self.predicate.is_some())
            .field("credentials", &self.credentials)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl Cors {
    /// Allows exactly these origins (`scheme://host[:port]`, e.g. `https://app.example.com`).
    pub fn origins<I>(origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self {
            origins: origins
                .into_iter()
                .map(|o| o.into().trim_end_matches('/').to_owned())
                .collect(),
            ..Self::default()
        }
    }

    /// Allows every origin for which `allowed` returns `true` (in addition to any listed one).
    pub fn predicate(allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self::default().or_predicate(allowed)
    }

    /// Also allows origins for which `allowed` returns `true`.
    pub fn or_predicate(mut self, allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.predicate = Some(Arc::new(allowed));
        self
    }

    /// Lets allowed origins send cookies and HTTP authentication
    /// (`Access-Control-Allow-Credentials: true`; clients use `withCredentials: true`).
    pub fn allow_credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
    }

    /// How long browsers may cache a preflight answer.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Whether `origin` is allowed (listed, or accepted by the predicate).
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
            || self.predicate.as_ref().is_some_and(|p| p(origin))
    }

    /// The tower-http layer that writes the CORS headers for allowed origins.
    pub fn layer(&self) -> CorsLayer {
        let cors = self.clone();
        let mut layer = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(
                move |origin: &HeaderValue, _: &Parts| {
                    origin.to_str().is_ok_and(|origin| cors.allows(origin))
                },
            ))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .allow_credentials(self.credentials);
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        layer
    }

    /// Whether a request with these headers may pass: no `Origin`, the server's own origin, or
    /// an allowed one.
    pub fn admits(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let Ok(origin) = origin.to_str() else {
            return Err(format!("{origin:?}"));
        };
        if self.allows(origin) || is_same_origin(origin, headers) {
            Ok(())
        } else {
            Err(origin.to_owned())
        }
    }
}

/// `Origin: http://host:port` against `Host: host:port`.
fn is_same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// Refuses requests from origins that `cors` does not admit, with `403` and a log line.
pub(crate) async fn guard(
    axum::extract::State(cors): axum::extract::State<Cors>,
    request: Request,
    next: Next,
) -> Response {
    match cors.admits(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(origin) => {
            tracing::warn!(
                origin = %origin,
                method = %request.method(),
                path = request.uri().path(),
                "CORS: refused a request from origin {origin}, which is not allowed"
            );
            (StatusCode::FORBIDDEN, "origin not allowed").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: &str, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, origin.parse().unwrap());
        h.insert(header::HOST, host.parse().unwrap());
        h
    }

    #[test]
    fn default_refuses_other_origins_but_not_the_servers_own() {
        let cors = Cors::default();
        assert!(
            cors.admits(&headers("http://evil.test", "127.0.0.1:3000"))
                .is_err()
        );
        assert!(
            cors.admits(&headers("http://127.0.0.1:3000", "127.0.0.1:3000"))
                .is_ok()
        );
        assert!(cors.admits(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn listed_and_predicate_origins_are_admitted() {
        let cors = Cors::origins(["http://app.test/"]).or_predicate(|o| o.ends_with(".ok.test"));
        assert!(cors.allows("http://app.test"));
        assert!(cors.allows("https://a.ok.test"));
        assert!(!cors.allows("http://app.test.evil"));
    }
}
