//! Content events: changes made through an HTTP API pushed to the Socket.IO clients allowed to see them.
//!
//! `cargo run --example content` listens on 127.0.0.1:3003 (`PORT` overrides). Clients connect with
//! `auth: { token }`, an HS256 JWT signed with `JWT_SECRET` (a dev default; demo tokens for an editor
//! and a reader are logged at start).
//!
//! - `POST /articles {title, authorId, internalNotes?}` → `article:create {data}` to every `editor`
//!   and to the author (`user-{authorId}`); `internalNotes` is never sent.
//! - `POST /articles/{id}/publish` → `article:publish {data}` to everyone.
//! - `DELETE /articles/{id}` → `article:delete {data}` to the editors and the author.
//!
//! The routes are open for the demo: put your API's own authentication in front of them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, post},
};
use iostack::{
    App, Io,
    content::{ContentAction, ContentEvents, ContentType},
    middleware::auth::{AuthLayer, JwtVerifier},
    rooms::{AutoJoinLayer, RoomRules},
};
use serde_json::{Value, json};
use tower::ServiceBuilder;

const ARTICLE: &str = "api::article.article";
const ANNOUNCEMENT: &str = "api::announcement.announcement";

#[derive(Clone)]
struct Api {
    io: Io,
    content: ContentEvents,
    articles: Arc<Mutex<HashMap<u64, Value>>>,
}

type Reply = Result<Json<Value>, (StatusCode, String)>;

impl Api {
    async fn publish(&self, uid: &str, action: ContentAction, entry: &Value) -> Reply {
        self.content
            .publish(&self.io, uid, action, entry)
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        Ok(Json(entry.clone()))
    }

    fn articles(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Value>> {
        self.articles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_found(id: u64) -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, format!("no article {id}"))
}

async fn create(State(api): State<Api>, Json(mut article): Json<Value>) -> Reply {
    if !article["title"].is_string() || !article["authorId"].is_string() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "`title` and `authorId` must be strings".into(),
        ));
    }
    let id = {
        let mut articles = api.articles();
        let id = articles.keys().max().map_or(1, |last| last + 1);
        article["id"] = json!(id);
        articles.insert(id, article.clone());
        id
    };
    tracing::info!(id, "article created");
    api.publish(ARTICLE, ContentAction::Create, &article).await
}

async fn publish(State(api): State<Api>, Path(id): Path<u64>) -> Reply {
    let article = api
        .articles()
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    api.publish(ANNOUNCEMENT, ContentAction::Publish, &article)
        .await
}

async fn remove(State(api): State<Api>, Path(id): Path<u64>) -> Reply {
    let article = api.articles().remove(&id).ok_or_else(|| not_found(id))?;
    api.publish(ARTICLE, ContentAction::Delete, &article).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "dev-secret-change-me".into());

    let app = App::builder(())
        .on_connect(
            ServiceBuilder::new()
                .layer(AuthLayer::new(JwtVerifier::hs256(&secret)))
                .layer(AutoJoinLayer::new(RoomRules::new())),
        )
        .build()
        .await?;
    let content = ContentEvents::new()
        .register(
            ContentType::new(ARTICLE)
                .readable_by(["editor"])
                .owned_by("/authorId")
                .omit(["internalNotes"]),
        )
        // Published articles go to everyone, still without their internal notes.
        .register(
            ContentType::new(ANNOUNCEMENT)
                .event_prefix("article")
                .public()
                .omit(["internalNotes"]),
        );
    let api = Api {
        io: app.io().clone(),
        content,
        articles: Arc::default(),
    };
    let app = app.merge(
        Router::new()
            .route("/articles", post(create))
            .route("/articles/{id}/publish", post(publish))
            .route("/articles/{id}", delete(remove))
            .with_state(api),
    );

    for (sub, role) in [("1", "editor"), ("2", "reader")] {
        tracing::info!(token = %demo_token(&secret, sub, role), "demo token: user `{sub}`, role {role}");
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "3003".into());
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        "content example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
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
