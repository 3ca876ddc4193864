//! Presence, entity subscriptions and per-subscriber permissions.
//!
//! `cargo run --example presence --features presence` listens on 127.0.0.1:3004 (`PORT`
//! overrides). With `REDIS_URL` set, nodes share a Redis 7+ and act as one (start several with
//! different ports); without it, the memory adapter is used. Clients connect with
//! `auth: { token }`, an HS256 JWT signed with `JWT_SECRET` (a dev default; demo tokens are logged).
//!
//! - Presence: `presence:subscribe`, `presence:list`, `presence:view {entry}`, `presence:leave {entry}`;
//!   `HEARTBEAT_MS` (default 5000) and `VIEW_IDLE_MS` (default 30000) set the timings.
//! - Subscriptions: `subscribe {type: "article", id?, filter?}`, `unsubscribe`. Editors read every
//!   article; readers read published ones, without `internalNotes`.
//! - `POST /articles`, `PUT /articles/{id}`, `DELETE /articles/{id}` change articles and publish
//!   `create`/`update`/`delete` to the matching subscribers. `PUT /permissions/{role}` with
//!   `{hide?: [field], show?: [field], revoke?: true}` changes a role's read rule on articles;
//!   the next message follows it. Every node decides for the subscriptions it publishes to, so
//!   in a cluster send permission changes to every node (or load the policy from one store).
//!
//! The routes are open for the demo: put your API's own authentication in front of them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{post, put},
};
use iostack::{
    Adapter, App,
    memory::MemoryAdapter,
    middleware::auth::{AuthLayer, JwtVerifier},
    presence::{Action, Filter, Permissions, Presence, RolePolicy, Subscriptions},
};
use serde::Deserialize;
use serde_json::{Value, json};

const ARTICLE: &str = "article";

struct Api {
    subs: Subscriptions,
    policy: RolePolicy,
    articles: Arc<Mutex<HashMap<u64, Value>>>,
}

impl Clone for Api {
    fn clone(&self) -> Self {
        Self {
            subs: self.subs.clone(),
            policy: self.policy.clone(),
            articles: self.articles.clone(),
        }
    }
}

type Reply = Result<Json<Value>, (StatusCode, String)>;

impl Api {
    async fn publish(&self, action: Action, entry: Value) -> Reply {
        let report = self
            .subs
            .publish(ARTICLE, action, &entry)
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        tracing::info!(
            action = action.event(),
            matched = report.matched,
            delivered = report.delivered,
            "article published"
        );
        Ok(Json(entry))
    }

    fn articles(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Value>> {
        self.articles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn create(State(api): State<Api>, Json(mut article): Json<Value>) -> Reply {
    if !article.is_object() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected an object".into(),
        ));
    }
    let id = {
        let mut articles = api.articles();
        let id = match article["id"].as_u64() {
            Some(id) => id,
            None => articles.keys().max().map_or(1, |last| last + 1),
        };
        article["id"] = json!(id);
        articles.insert(id, article.clone());
        id
    };
    tracing::info!(id, "article created");
    api.publish(Action::Create, article).await
}

async fn update(
    State(api): State<Api>,
    Path(id): Path<u64>,
    Json(changes): Json<serde_json::Map<String, Value>>,
) -> Reply {
    let article = {
        let mut articles = api.articles();
        let article = articles.entry(id).or_insert_with(|| json!({ "id": id }));
        for (k, v) in changes {
            article[k] = v;
        }
        article["id"] = json!(id);
        article.clone()
    };
    api.publish(Action::Update, article).await
}

async fn remove(State(api): State<Api>, Path(id): Path<u64>) -> Reply {
    let article = api
        .articles()
        .remove(&id)
        .unwrap_or_else(|| json!({ "id": id }));
    api.publish(Action::Delete, article).await
}

#[derive(Deserialize)]
struct RuleChange {
    #[serde(default)]
    hide: Vec<String>,
    #[serde(default)]
    show: Vec<String>,
    #[serde(default)]
    revoke: bool,
}

async fn permissions(
    State(api): State<Api>,
    Path(role): Path<String>,
    Json(change): Json<RuleChange>,
) -> Reply {
    if change.revoke {
        api.policy.revoke(&role, ARTICLE);
    } else {
        api.policy.hide(&role, ARTICLE, change.hide);
        api.policy.show(&role, ARTICLE, change.show);
    }
    tracing::info!(role, "permissions changed");
    Ok(Json(json!({ "ok": true })))
}

fn millis(var: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

async fn run(adapter: impl Adapter, secret: String) -> Result<(), Box<dyn std::error::Error>> {
    let presence = Presence::new()
        .heartbeat(millis("HEARTBEAT_MS", 5000))
        .idle_after(millis("VIEW_IDLE_MS", 30_000));
    let policy = RolePolicy::new()
        .read("editor", ARTICLE)
        .read_where(
            "reader",
            ARTICLE,
            Filter::parse(&json!({ "status": "published" }))?,
        )
        .hide("reader", ARTICLE, ["internalNotes"]);
    let subs = Subscriptions::new(Permissions::new(policy.clone()));
    let app = App::builder(())
        .adapter(adapter)
        .on_connect(AuthLayer::new(JwtVerifier::hs256(&secret)))
        .hooks(presence)
        .hooks(subs.clone())
        .build()
        .await?;
    let api = Api {
        subs,
        policy,
        articles: Arc::default(),
    };
    let app = app.merge(
        Router::new()
            .route("/articles", post(create))
            .route("/articles/{id}", put(update).delete(remove))
            .route("/permissions/{role}", put(permissions))
            .with_state(api),
    );

    for (sub, role) in [("1", "editor"), ("2", "reader")] {
        tracing::info!(token = %demo_token(&secret, sub, role), "demo token: user `{sub}`, role {role}");
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "3004".into());
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        "presence example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "dev-secret-change-me".into());
    match std::env::var("REDIS_URL") {
        Ok(_) => run(iostack::redis::RedisAdapter::from_env(), secret).await,
        Err(_) => run(MemoryAdapter, secret).await,
    }
}

fn demo_token(secret: &str, sub: &str, role: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3600;
    let claims =
        json!({ "sub": sub, "username": format!("user{sub}"), "roles": [role], "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}
