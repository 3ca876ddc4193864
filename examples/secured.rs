//! The five middleware layers composed the way the README shows.
//!
//! `cargo run --example secured` listens on 127.0.0.1:3001 (`PORT` overrides) and logs a demo
//! token (user `demo`, role `admin`, valid one hour) signed with `JWT_SECRET` (a dev default).
//! Events: `echo` (ack), `whoami` (ack with the identity). `GET /stats` serves event statistics.
//! `IP_ALLOWLIST` (comma-separated addresses and CIDR ranges) replaces the default `127.0.0.1,::1`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iostack::{
    App, Identity,
    extract::{AckSender, Data},
    middleware::{
        auth::{AuthLayer, JwtVerifier, RequireRoleLayer},
        event_stats::{EventStats, EventStatsLayer},
        ip_allowlist::IpAllowlistLayer,
        logging::ConnectionLogLayer,
        rate_limit::{ConnectRateLimitLayer, RateLimitLayer},
    },
    monitoring::Access,
};
use tower::ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "dev-secret-change-me".into());
    let stats = EventStats::new();
    let allowed = std::env::var("IP_ALLOWLIST").unwrap_or_else(|_| "127.0.0.1,::1".into());

    let app = App::builder(())
        .on_connect(
            ServiceBuilder::new()
                .layer(ConnectRateLimitLayer::per_ip(60, Duration::from_secs(60)))
                .layer(IpAllowlistLayer::new(allowed.split(','))?)
                .layer(ConnectionLogLayer::new())
                .layer(AuthLayer::new(JwtVerifier::hs256(&secret))),
        )
        .on_event(
            ServiceBuilder::new()
                .layer(RateLimitLayer::per_socket(20, Duration::from_secs(1)).on_limit(
                    |req: &iostack::EventRequest| tracing::warn!(socket.id = %req.socket().id, "rate limited"),
                ))
                .layer(EventStatsLayer::new(stats.clone())),
        )
        .on("echo", async |Data(v): Data<serde_json::Value>, ack: AckSender| {
            let _ = ack.send(&v);
        })
        .on("whoami", async |user: Identity, ack: AckSender| {
            let _ = ack.send(&user);
        })
        .namespace("/admin", |ns| {
            // Inside the app's stack: the token is already verified, only the role is checked.
            ns.on_connect(RequireRoleLayer::new("admin"))
                .on("whoami", async |user: Identity, ack: AckSender| {
                    let _ = ack.send(&user);
                })
        })
        .build()
        .await?;
    let monitor = app.monitor().with_source(stats);
    let app = app.merge(monitor.router(Access::open()));

    tracing::info!(token = %demo_token(&secret)?, "demo token for user `demo` (role admin)");
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        "secured example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
}

/// A one-hour HS256 token for user `demo` with role `admin`.
fn demo_token(secret: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 3600;
    let claims =
        serde_json::json!({ "sub": "demo", "username": "demo", "roles": ["admin"], "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}
