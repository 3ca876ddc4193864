//! Pieces shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod db;

use iostack::{App, BoxError, ConnectRequest, Identity, delivery::Deliveries};
use iostack_testing::{RawClient, TestClient, TestServer};
use serde_json::Value;
use tower::filter::AsyncFilterLayer;

type Decision = std::future::Ready<Result<ConnectRequest, BoxError>>;

/// A connect layer admitting `auth.token` values of the form `user:<id>[:<role>]`.
pub fn token_auth() -> AsyncFilterLayer<impl Fn(ConnectRequest) -> Decision + Clone> {
    AsyncFilterLayer::new(|mut req: ConnectRequest| {
        let token = req
            .auth()
            .get("token")
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        let result = match token.as_deref().map(|t| t.split(':').collect::<Vec<_>>()) {
            None => Err("Authentication required".into()),
            Some(parts) if parts.len() >= 2 && parts[0] == "user" => {
                let mut identity = Identity::new(parts[1]).with_username(format!("u{}", parts[1]));
                if let Some(role) = parts.get(2) {
                    identity = identity.with_role(*role);
                }
                req.set_identity(identity);
                Ok(req)
            }
            Some(_) => Err("Invalid token".into()),
        };
        std::future::ready(result)
    })
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 JWT for `claims`, signed with `secret`.
pub fn jwt(secret: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid one-hour token for `sub` with `roles`.
pub fn user_token(secret: &str, sub: &str, roles: &[&str]) -> String {
    jwt(
        secret,
        serde_json::json!({ "sub": sub, "username": format!("u{sub}"), "roles": roles, "exp": now_secs() + 3600 }),
    )
}

/// Serves `app` to a client that connects and then never reads, so its socket buffer fills, and
/// emits `event` with `data` from a second client. Returns the handler's acknowledgement, the
/// app's delivery counts, and the server, still serving.
pub async fn ask_past_a_stalled_client(
    app: App<()>,
    event: &str,
    data: Value,
) -> (Value, Deliveries, TestServer) {
    let deliveries = app.io().deliveries().clone();
    let server = TestServer::start(app).await.unwrap();
    let _stalled = RawClient::connect(server.addr(), None).await;
    let sender = TestClient::connect(&server.url()).await.unwrap();
    let reply = sender.emit_with_ack(event, data).await.unwrap();
    (reply, deliveries, server)
}
