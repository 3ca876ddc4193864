//! The flagship example: the Strapi io plugin's lifecycle-hooks page, answered exactly, plus
//! iostack's extras (acks, `echo`, `whoami`, monitoring) under names of their own.
//!
//! `cargo run --example realtime` — 127.0.0.1:3000 (`PORT`), memory adapter and an SQLite file
//! (`iostack.db`) by default; `REDIS_URL` (or `REDIS_CLUSTER_NODES`) or `MONGO_URL` switch the
//! adapter, `DATABASE_URL` the database. `JWT_SECRET` signs tokens (a demo token is logged at
//! start), `MONITOR_TOKEN` guards `GET /stats` and `GET /metrics`, `IP_ALLOWLIST` lists who may
//! connect, `ACTIVE_CONNECTIONS_INTERVAL_MS` and `EVENT_STATS_INTERVAL_MS` set the periodic reports
//! (the page's 60000 and 300000 by default), `CONNECTS_PER_MINUTE` the connection attempts per IP.
//! The README lists every client event, its exact replies, and where each section of the page is.
//! With `--features jemalloc` the server runs on jemalloc and gives memory back when clients leave.

mod payload;
mod seed;

use std::{
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use iostack::{
    Adapter, App, BoxError, BroadcastError, EventRequest, Identity, Io, ShutdownOptions,
    extract::{AckSender, Data},
    memory::MemoryAdapter,
    middleware::{
        auth::{AuthLayer, JwtVerifier},
        event_stats::{EventStats, EventStatsLayer},
        ip_allowlist::IpAllowlistLayer,
        logging::ConnectionLogLayer,
        rate_limit::{ConnectRateLimitLayer, RateLimitLayer},
    },
    monitoring::Access,
    rooms::{AutoJoinLayer, RoomRules, get_rooms},
};
use iostack_channels::{ChannelStore, Channels, ConnectionLogStore, Database, NewChannel};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::{ServiceBuilder, util::MapErrLayer};

use payload::Payload;
use seed::{Intervals, SeedHooks};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: iostack::Jemalloc = iostack::Jemalloc;

/// `kick {userId, reason?}`: the page's `kickUser(userId, reason)`; `userId` a number or a string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kick {
    user_id: Value,
    reason: Option<String>,
}

struct Settings {
    secret: String,
    monitor_token: String,
    allowlist: Vec<String>,
    connects_per_minute: u32,
    intervals: Intervals,
}

/// "Namespaces": `/chat` `message` → every `/chat` client, the sender included, data unchanged.
async fn chat_message(io: Io, Data(data): Data<Payload>) -> Result<(), BroadcastError> {
    match io.of("/chat") {
        Some(chat) => chat.emit("message", &data).await,
        None => Ok(()),
    }
}

/// "Namespaces": `/admin` `broadcast` → `admin:announcement` to the main namespace, data unchanged.
/// Ours: an ack `{ok: true}` if the client asked for one.
async fn admin_broadcast(
    io: Io,
    Data(data): Data<Payload>,
    ack: AckSender,
) -> Result<(), BroadcastError> {
    io.emit("admin:announcement", &data).await?;
    let _ = ack.send(&json!({ "ok": true }));
    Ok(())
}

/// "Custom helpers": `kickUser(userId, reason)`; every socket of the user gets `kicked {reason}`,
/// then is disconnected. Ours: an ack `{kicked: bool}`.
async fn kick(io: Io, Data(kick): Data<Kick>, ack: AckSender) -> Result<(), String> {
    let user_id = match &kick.user_id {
        Value::String(id) if !id.is_empty() => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return Err("userId must be a number or a string".into()),
    };
    let reason = kick
        .reason
        .unwrap_or_else(|| "Removed by an administrator".into());
    let found = io
        .kick_user(&user_id, &reason)
        .await
        .map_err(|e| e.to_string())?;
    let _ = ack.send(&json!({ "kicked": found }));
    Ok(())
}

/// The page's `/admin` middleware refuses everything that is not an admin with one message.
fn admin_only(_: BoxError) -> BoxError {
    "Admin access required".into()
}

async fn run(
    adapter: impl Adapter,
    db: Database,
    settings: Settings,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = ChannelStore::new(db.clone());
    store
        .create(NewChannel {
            id: "general".into(),
            name: "General".into(),
            password: None,
            max_members: 100,
        })
        .await?;
    store
        .create(NewChannel {
            id: "1".into(),
            name: "Lobby".into(),
            password: None,
            max_members: 100,
        })
        .await?;
    store
        .create(NewChannel {
            id: "vip".into(),
            name: "VIP".into(),
            password: Some("vip-pass".into()),
            max_members: 3,
        })
        .await?;
    let stats = EventStats::new();
    let verifier = JwtVerifier::hs256(&settings.secret);

    // "Logging middleware" (`Connection attempt`, the connection log table, `Session ended`),
    // "IP whitelisting" (`Blocked connection from <ip>`) and, ours, a limit on connection attempts.
    let log = ConnectionLogStore::new(db);
    let guard = ServiceBuilder::new()
        .layer(ConnectionLogLayer::new().sink(log.clone()))
        .layer(IpAllowlistLayer::new(&settings.allowlist)?)
        .layer(ConnectRateLimitLayer::per_ip(
            settings.connects_per_minute,
            Duration::from_secs(60),
        ));
    // "Auto-join rooms": user-{id}, role-{role}, premium, country-{country}.
    let rooms = AutoJoinLayer::new(
        RoomRules::new()
            .when_claim("premium", "premium")
            .claim_value("country", "country"),
    );
    // "Rate limiting": 100 events a minute per socket, in every namespace, checked as events
    // arrive (a gate), so a flood is refused before it waits in the socket's queue.
    let rate_limit = RateLimitLayer::per_socket(100, Duration::from_secs(60))
        .on_limit(|req: &EventRequest| {
            tracing::warn!("[io] Rate limit exceeded: {}", req.socket().id);
        })
        .into_gate();
    // "Event statistics", for every event.
    let events = EventStatsLayer::new(stats.clone());

    let app = App::builder(())
        .adapter(adapter)
        .gate(rate_limit)
        // Every namespace but `/admin`: the guard, then "Authentication middleware".
        .on_connect(guard.clone())
        .on_connect(AuthLayer::new(verifier.clone()))
        .on_connect(rooms.clone())
        .on_event(events.clone())
        .on("echo", async |Data(v): Data<Payload>, ack: AckSender| {
            let _ = ack.send(&v);
        })
        .on("whoami", async |user: Identity, ack: AckSender| {
            let _ = ack.send(&user);
        })
        .on("get-rooms", get_rooms)
        .namespace("/chat", |ns| ns.on("message", chat_message))
        // Outside the app's stacks because the page gives `/admin` its own admin-only check in
        // place of the app's authentication; the same guard, rooms and event stack otherwise.
        .public_namespace("/admin", |ns| {
            ns.on_connect(guard)
                .on_connect(MapErrLayer::new(admin_only as fn(BoxError) -> BoxError))
                .on_connect(AuthLayer::new(verifier).require_role("admin"))
                .on_connect(rooms)
                .on_event(events)
                .on("broadcast", admin_broadcast)
                .on("kick", kick)
        })
        // "Complex room logic": join-channel (seats freed at startup and when the server stops).
        .hooks(Channels::new(store, "/"))
        // The connection log's last rows are written before `serve` returns.
        .hooks(log)
        // The page's logging and reporting hooks.
        .hooks(SeedHooks {
            stats: stats.clone(),
            intervals: settings.intervals,
            tasks: Mutex::new(Vec::new()),
        })
        // "Graceful shutdown".
        .shutdown(
            ShutdownOptions::new()
                .message("Server is restarting")
                .reconnect_in(Duration::from_secs(5))
                .drain(Duration::from_secs(1)),
        )
        .build()
        .await?;
    let monitor = app.monitor().with_source(stats);
    // Monitoring answers listed addresses only, with its token.
    let monitoring = monitor
        .router(Access::bearer(settings.monitor_token))
        .layer(IpAllowlistLayer::new(&settings.allowlist)?);
    let app = app.merge(monitoring);

    tracing::info!(token = %demo_token(&settings.secret), "demo token: user `demo`, roles admin, valid one hour");
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let port: u16 = port
        .parse()
        .map_err(|_| format!("PORT must be a port number, got `{port}`"))?;
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        adapter = app.io().adapter_name(),
        "realtime example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
}

fn demo_token(secret: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 3600;
    let claims = json!({ "sub": "demo", "username": "demo", "roles": ["admin"], "premium": true, "exp": exp });
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    iostack::logging::init();
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let interrupted = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::Interrupted);
            if interrupted {
                return std::process::ExitCode::from(130);
            }
            eprintln!("realtime example failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads the settings, picks the adapter and database, and serves until shutdown.
async fn start() -> Result<(), Box<dyn std::error::Error>> {
    let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
    let connects = env("CONNECTS_PER_MINUTE", "120");
    let settings = Settings {
        secret: env("JWT_SECRET", "dev-secret-change-me"),
        monitor_token: env("MONITOR_TOKEN", "dev-monitor-token"),
        allowlist: env("IP_ALLOWLIST", "127.0.0.1,::1")
            .split(',')
            .map(|e| e.trim().to_owned())
            .collect(),
        connects_per_minute: connects
            .parse()
            .map_err(|_| format!("CONNECTS_PER_MINUTE must be a number, got `{connects}`"))?,
        intervals: Intervals::from_env()?,
    };
    let db = Database::from_env().await?;
    if std::env::var_os("REDIS_URL").is_some() || std::env::var_os("REDIS_CLUSTER_NODES").is_some()
    {
        run(iostack_redis::RedisAdapter::from_env(), db, settings).await
    } else if let Ok(url) = std::env::var("MONGO_URL") {
        run(
            iostack_mongo::MongoAdapter::new(iostack_mongo::MongoConfig::new(url)),
            db,
            settings,
        )
        .await
    } else {
        run(MemoryAdapter::new(), db, settings).await
    }
}
