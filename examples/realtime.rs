//! The flagship example: every iostack feature in one server.
//!
//! `cargo run --example realtime` — 127.0.0.1:3000 (`PORT`), memory adapter and an SQLite file
//! (`iostack.db`) by default; `REDIS_URL` (or `REDIS_CLUSTER_NODES`) or `MONGO_URL` switch the
//! adapter, `DATABASE_URL` the database. `JWT_SECRET` signs tokens (a demo token is logged at start), `MONITOR_TOKEN` guards
//! `GET /stats` and `GET /metrics`. The README lists every client event and its replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iostack::{
    Adapter, App, Identity, Io, ShutdownOptions,
    extract::{AckSender, Data, SocketRef},
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
use tower::ServiceBuilder;

#[derive(Debug, Deserialize)]
struct ChatMessage {
    room: Option<String>,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kick {
    user_id: String,
    reason: Option<String>,
}

struct Settings {
    secret: String,
    monitor_token: String,
    allowlist: String,
}

async fn run<AD: Adapter>(
    adapter: AD,
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
            id: "vip".into(),
            name: "VIP".into(),
            password: Some("vip-pass".into()),
            max_members: 3,
        })
        .await?;
    let stats = EventStats::new();
    let verifier = JwtVerifier::hs256(&settings.secret);

    // Every namespace: allowlist, connection log in the database, JWT auth, rooms from the identity.
    let connect = ServiceBuilder::new()
        .layer(ConnectRateLimitLayer::per_ip(120, Duration::from_secs(60)))
        .layer(IpAllowlistLayer::new(settings.allowlist.split(','))?)
        .layer(ConnectionLogLayer::new().sink(ConnectionLogStore::new(db)))
        .layer(AuthLayer::new(verifier.clone()))
        .layer(AutoJoinLayer::new(
            RoomRules::new()
                .when_claim("premium", "premium")
                .claim_value("country", "country"),
        ));
    let events = ServiceBuilder::new()
        .layer(RateLimitLayer::per_socket(30, Duration::from_secs(1)))
        .layer(EventStatsLayer::new(stats.clone()));

    let app = App::builder(())
        .adapter(adapter)
        .on_connect(connect.clone())
        .on_event(events.clone())
        .on(
            "echo",
            async |Data(v): Data<Value>, ack: AckSender<AD::Io>| {
                let _ = ack.send(&v);
            },
        )
        .on("whoami", async |user: Identity, ack: AckSender<AD::Io>| {
            let _ = ack.send(&user);
        })
        .on("get-rooms", get_rooms::<AD::Io>)
        .namespace("/chat", |ns| {
            ns.on_connect(connect.clone()).on_event(events.clone()).on(
                "message",
                async |socket: SocketRef<AD::Io>, user: Identity, Data(msg): Data<ChatMessage>| {
                    let out =
                        json!({ "from": user.id, "username": user.username, "text": msg.text });
                    match msg.room {
                        Some(room) => socket.within(room).emit("chat:message", &out).await,
                        None => socket.broadcast().emit("chat:message", &out).await,
                    }
                },
            )
        })
        .namespace("/admin", |ns| {
            ns.on_connect(
                ServiceBuilder::new()
                    .layer(
                        IpAllowlistLayer::new(settings.allowlist.split(','))
                            .expect("checked above"),
                    )
                    .layer(AuthLayer::new(verifier.clone()).require_role("admin")),
            )
            .on(
                "broadcast",
                async |io: Io<AD::Io>,
                       user: Identity,
                       Data(text): Data<String>,
                       ack: AckSender<AD::Io>| {
                    let note = json!({ "message": text, "from": user.id });
                    for ns in io.socketio().nsps() {
                        let _ = ns.emit("admin:announcement", &note).await;
                    }
                    let _ = ack.send(&json!({ "ok": true }));
                },
            )
            .on(
                "kick",
                async |io: Io<AD::Io>, Data(kick): Data<Kick>, ack: AckSender<AD::Io>| {
                    let reason = kick
                        .reason
                        .unwrap_or_else(|| "Removed by an administrator".into());
                    let found = io
                        .kick_user(&kick.user_id, &reason)
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = ack.send(&json!({ "kicked": found }));
                    Ok::<(), String>(())
                },
            )
        })
        .hooks(Channels::new(store, "/"))
        .log_active_connections(Duration::from_secs(30))
        .shutdown(
            ShutdownOptions::new()
                .message("Server restarting")
                .reconnect_in(Duration::from_secs(5)),
        )
        .build()
        .await?;
    let monitor = app.monitor().with_source(stats);
    let app = app.merge(monitor.router(Access::bearer(settings.monitor_token)));

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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("realtime example failed to start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads the settings, picks the adapter and database, and serves until shutdown.
async fn start() -> Result<(), Box<dyn std::error::Error>> {
    let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
    let settings = Settings {
        secret: env("JWT_SECRET", "dev-secret-change-me"),
        monitor_token: env("MONITOR_TOKEN", "dev-monitor-token"),
        allowlist: env("IP_ALLOWLIST", "127.0.0.1,::1"),
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
