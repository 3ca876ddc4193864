//! The servers the benches compare: bare socketioxide and iostack apps with the same handlers.
#![allow(dead_code)]

use std::time::Duration;

use iostack::{
    App, AppBuilder, Io,
    delivery::Overflow,
    extract::{AckSender, Data},
    middleware::{
        auth::{AuthLayer, JwtVerifier},
        event_stats::{EventStats, EventStatsLayer},
        ip_allowlist::IpAllowlistLayer,
        logging::ConnectionLogLayer,
        rate_limit::RateLimitLayer,
    },
};
use serde_json::Value;
use socketioxide::SocketIo;
use tower::ServiceBuilder;

const SECRET: &str = "bench-secret";

/// The handler every variant runs: acks its payload back.
pub(crate) async fn echo(Data(v): Data<Value>, ack: AckSender) {
    let _ = ack.send(&v);
}

/// Emits `tick` `n` times to every client of `/` through iostack's `Io`, which counts what full
/// socket buffers refuse.
pub(crate) async fn burst(io: Io, Data(n): Data<u32>) {
    for i in 0..n {
        let _ = io.emit("tick", &i).await;
    }
}

/// Acks the number of messages the app counted as dropped.
pub(crate) async fn dropped(io: Io, ack: AckSender) {
    let _ = ack.send(&io.deliveries().dropped());
}

/// Bare socketioxide with [`echo`] and a `burst` handler like [`burst`], as an axum router.
pub(crate) fn bare_router() -> axum::Router {
    use socketioxide::extract::{AckSender, SocketRef};

    let (layer, io) = SocketIo::builder().build_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        });
        socket.on("burst", async |io: SocketIo, Data(n): Data<u32>| {
            for i in 0..n {
                let _ = io.emit("tick", &i).await;
            }
        });
    });
    axum::Router::new().layer(layer)
}

/// An iostack app builder with [`echo`], [`burst`] and [`dropped`], and empty stacks.
fn with_handlers() -> AppBuilder<()> {
    App::builder(())
        .on("echo", echo)
        .on("burst", burst)
        .on("dropped", dropped)
}

/// An iostack app with empty stacks and the same handlers.
pub(crate) async fn no_layers() -> App<()> {
    with_handlers().build().await.unwrap()
}

/// How long [`no_layers_waiting`]'s broadcasts wait for a full socket.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// [`no_layers`] whose broadcasts wait up to [`WAIT`] for a full socket instead of dropping.
pub(crate) async fn no_layers_waiting() -> App<()> {
    with_handlers()
        .overflow(Overflow::Wait(WAIT))
        .build()
        .await
        .unwrap()
}

/// [`no_layers`] that disconnects a slow consumer whose queue is full instead of dropping.
pub(crate) async fn no_layers_disconnecting() -> App<()> {
    with_handlers()
        .overflow(Overflow::Disconnect)
        .build()
        .await
        .unwrap()
}

/// A rate limit high enough never to refuse: what is measured is the cost of checking.
pub(crate) fn rate_limit() -> RateLimitLayer {
    RateLimitLayer::per_socket(1_000_000, Duration::from_secs(1))
}

fn ip_allowlist() -> IpAllowlistLayer {
    IpAllowlistLayer::new(["127.0.0.1"]).unwrap()
}

fn jwt_auth() -> AuthLayer<JwtVerifier> {
    AuthLayer::new(JwtVerifier::hs256(SECRET))
}

pub(crate) fn event_stats() -> EventStatsLayer {
    EventStatsLayer::new(EventStats::new())
}

/// The same handlers behind all five middleware layers; clients need [`auth`].
pub(crate) async fn five_layers() -> App<()> {
    with_handlers()
        .on_connect(
            ServiceBuilder::new()
                .layer(ip_allowlist())
                .layer(ConnectionLogLayer::new())
                .layer(jwt_auth()),
        )
        .on_event(
            ServiceBuilder::new()
                .layer(rate_limit())
                .layer(event_stats()),
        )
        .build()
        .await
        .unwrap()
}

/// The middleware layers one by one, as [`one_layer`] names them; `jwt-auth` needs [`auth`].
pub(crate) const LAYERS: [&str; 5] = [
    "ip-allowlist",
    "connection-log",
    "jwt-auth",
    "rate-limit",
    "event-stats",
];

/// The same handlers behind one of [`LAYERS`] only (`none`: no layer).
pub(crate) async fn one_layer(name: &str) -> App<()> {
    let app = with_handlers();
    match name {
        "none" => app.build().await,
        "ip-allowlist" => app.on_connect(ip_allowlist()).build().await,
        "connection-log" => app.on_connect(ConnectionLogLayer::new()).build().await,
        "jwt-auth" => app.on_connect(jwt_auth()).build().await,
        "rate-limit" => app.on_event(rate_limit()).build().await,
        "event-stats" => app.on_event(event_stats()).build().await,
        other => panic!("no layer named {other}"),
    }
    .unwrap()
}

/// The handshake `auth` payload [`five_layers`] admits.
pub(crate) fn auth() -> String {
    let claims = serde_json::json!({ "sub": "bench", "exp": 4_000_000_000u64 });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    format!("{{\"token\":\"{token}\"}}")
}
