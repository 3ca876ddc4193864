//! tower layers for [iostack](https://docs.rs/iostack) apps, one module each:
//!
//! | module | stack | what it does |
//! |---|---|---|
//! | [`auth`] | connect | token from the handshake, JWT or custom verifier, role requirement, expiry |
//! | [`logging`] | connect | one record per attempt and per session, to tracing or your sink |
//! | [`ip_allowlist`] | connect or HTTP | CIDR allow/deny lists, IPv4 and IPv6, trusted proxies |
//! | [`rate_limit`] | event (and connect) | GCRA quotas per socket, identity or IP |
//! | [`event_stats`] | event | counts per event and a windowed rate, for monitoring |
//! | [`rooms`] | connect | rooms joined from the identity's claims (`premium`, `country-{c}`) |
//!
//! Each module is a cargo feature of the same name (`ip-allowlist`, `rate-limit`, `event-stats`
//! with dashes); all are on by default.
//!
//! ```
//! use std::time::Duration;
//! use iostack_core::App;
//! use iostack_middleware::{
//!     auth::{AuthLayer, JwtVerifier}, event_stats::{EventStats, EventStatsLayer},
//!     ip_allowlist::IpAllowlistLayer, logging::ConnectionLogLayer, rate_limit::RateLimitLayer,
//! };
//! use tower::ServiceBuilder;
//!
//! # fn build() -> Result<(), Box<dyn std::error::Error>> {
//! let stats = EventStats::new();
//! let builder = App::builder(())
//!     .on_connect(
//!         ServiceBuilder::new()
//!             .layer(IpAllowlistLayer::new(["127.0.0.1", "::1", "192.168.1.0/24"])?)
//!             .layer(ConnectionLogLayer::new())
//!             .layer(AuthLayer::new(JwtVerifier::hs256("secret"))),
//!     )
//!     .on_event(
//!         ServiceBuilder::new()
//!             .layer(RateLimitLayer::per_socket(100, Duration::from_secs(60)))
//!             .layer(EventStatsLayer::new(stats.clone())),
//!     );
//! # Ok(()) }
//! ```

#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "event-stats")]
pub mod event_stats;
#[cfg(any(feature = "auth", feature = "ip-allowlist", feature = "rate-limit"))]
pub mod future;
#[cfg(feature = "ip-allowlist")]
pub mod ip_allowlist;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "rooms")]
pub mod rooms;
