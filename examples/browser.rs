//! Serving browsers and operators: CORS for a page on another origin, JWT auth, the official
//! Socket.IO Admin UI and the live monitoring page.
//!
//! Run with `cargo run --example browser --features admin-ui,redis` (listens on 127.0.0.1:3000, `PORT`
//! overrides). Environment:
//! - `ALLOWED_ORIGINS`: comma-separated origins allowed by CORS (default `http://localhost:8080`).
//! - `JWT_SECRET`: the HS256 secret of client tokens (`auth: { token }`; default `browser-example-secret`).
//! - `MONITOR_TOKEN`: bearer token of `/stats`, `/metrics` and the page `/monitor` (default `monitor-token`).
//! - `ADMIN_UI_PASSWORD_HASH` (argon2 PHC) or `ADMIN_UI_PASSWORD` (hashed at start): the Admin UI's
//!   password for user `ADMIN_UI_USERNAME` (default `admin`); without either, the Admin UI is off.
//! - `ADMIN_UI_DIR`: the UI's built files (`node_modules/@socket.io/admin-ui/ui/dist`), served
//!   at `/admin-ui/`; `ADMIN_UI_ICONS_DIR`: the icon font (`node_modules/@mdi/font`) the UI would
//!   otherwise load from a CDN.
//! - `REDIS_URL`: when set, nodes sharing this Redis 7+ act as one (the Redis adapter); else the
//!   in-memory adapter.
//!
//! Clients connect with a JWT, get `welcome` `{ transport }`, and may `echo` with an ack; they can
//! `join` a room (acked with its name).

use iostack::{
    Adapter, App, Hooks,
    admin_ui::{AdminAuth, AdminUi, UiFiles},
    cors::Cors,
    extract::{AckSender, Data, SocketRef},
    memory::MemoryAdapter,
    middleware::{
        auth::{AuthLayer, JwtVerifier},
        event_stats::{EventStats, EventStatsLayer},
    },
    monitoring::Access,
    redis::RedisAdapter,
};

/// Greets every socket of `/` with the transport it arrived on.
struct Welcome;

#[iostack::async_trait]
impl Hooks<()> for Welcome {
    async fn on_connection(&self, socket: &SocketRef) {
        if socket.ns() == "/" {
            let transport = match socket.transport_type() {
                iostack::socketioxide::TransportType::Polling => "polling",
                iostack::socketioxide::TransportType::Websocket => "websocket",
            };
            let _ = socket.emit("welcome", &serde_json::json!({ "transport": transport }));
        }
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();
    if std::env::var("REDIS_URL").is_ok() {
        serve(RedisAdapter::from_env()).await
    } else {
        serve(MemoryAdapter::new()).await
    }
}

async fn serve(adapter: impl Adapter) -> Result<(), Box<dyn std::error::Error>> {
    let origins: Vec<String> = env("ALLOWED_ORIGINS", "http://localhost:8080")
        .split(',')
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    let stats = EventStats::new();
    let mut builder = App::builder(())
        .adapter(adapter)
        .on_connect(AuthLayer::new(JwtVerifier::hs256(env(
            "JWT_SECRET",
            "browser-example-secret",
        ))))
        .on_event(EventStatsLayer::new(stats.clone()))
        .on(
            "echo",
            async |Data(msg): Data<serde_json::Value>, ack: AckSender| {
                let _ = ack.send(&msg);
            },
        )
        .on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room.clone());
                let _ = ack.send(&room);
            },
        )
        .hooks(Welcome);

    let password_hash = match (
        std::env::var("ADMIN_UI_PASSWORD_HASH"),
        std::env::var("ADMIN_UI_PASSWORD"),
    ) {
        (Ok(hash), _) => Some(hash),
        (_, Ok(password)) => Some(AdminAuth::hash_password(&password)),
        _ => None,
    };
    if let Some(hash) = password_hash {
        let auth = AdminAuth::basic(env("ADMIN_UI_USERNAME", "admin"), hash)?;
        builder = AdminUi::new(auth).install(builder);
    } else {
        tracing::info!("Admin UI off: set ADMIN_UI_PASSWORD or ADMIN_UI_PASSWORD_HASH");
    }

    let app = builder.build().await?;
    let monitor = app.monitor().with_source(stats);
    let mut app = app
        .merge(monitor.router(Access::bearer(env("MONITOR_TOKEN", "monitor-token"))))
        .merge(monitor.page_router("/monitor", "/stats"))
        .cors(Cors::origins(origins).allow_credentials(true));
    if let Ok(dir) = std::env::var("ADMIN_UI_DIR") {
        let mut files = UiFiles::new(dir);
        if let Ok(icons) = std::env::var("ADMIN_UI_ICONS_DIR") {
            files = files.icons(icons);
        }
        app = app.merge(files.router("/admin-ui")?);
    }

    let port = env("PORT", "3000");
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        "browser example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
}
