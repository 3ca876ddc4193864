//! Authentication over real connections: every client-visible message, identity, roles, expiry.

mod common;

use iostack::{
    App, Identity,
    extract::AckSender,
    middleware::auth::{AuthLayer, JwtVerifier, Verified, Verifier, VerifyContext, VerifyError},
};
use iostack_testing::{TestClient, TestError, TestServer};
use serde_json::json;

const SECRET: &str = "test-secret";

async fn server() -> TestServer {
    let whoami = async |user: Identity, ack: AckSender| {
        let _ = ack.send(&json!({ "id": user.id, "roles": user.roles }));
    };
    let app = App::builder(())
        .on_connect(AuthLayer::new(JwtVerifier::hs256(SECRET)))
        .on("whoami", whoami)
        .namespace("/admin", |ns| {
            ns.on_connect(AuthLayer::new(JwtVerifier::hs256(SECRET)).require_role("admin"))
                .on("whoami", whoami)
        })
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

async fn refusal(server: &TestServer, ns: &str, auth: serde_json::Value) -> String {
    match TestClient::builder(server.url())
        .namespace(ns)
        .auth(auth)
        .connect()
        .await
    {
        Err(TestError::Refused(message)) => message,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("connection admitted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_missing_and_bad_tokens_with_exact_messages() {
    let server = server().await;
    assert_eq!(
        refusal(&server, "/", json!({})).await,
        "Authentication required"
    );
    assert_eq!(
        refusal(&server, "/", json!({ "token": 42 })).await,
        "Authentication required"
    );
    assert_eq!(
        refusal(&server, "/", json!({ "token": "not.a.jwt" })).await,
        "Invalid token"
    );

    let expired = common::jwt(
        SECRET,
        json!({ "sub": "1", "exp": common::now_secs() - 60 }),
    );
    assert_eq!(
        refusal(&server, "/", json!({ "token": expired })).await,
        "Invalid token"
    );
    let forged = common::user_token("another-secret", "1", &[]);
    assert_eq!(
        refusal(&server, "/", json!({ "token": forged })).await,
        "Invalid token"
    );
    // {"alg":"none"} with a valid-looking payload and no signature.
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
    assert_eq!(
        refusal(&server, "/", json!({ "token": unsigned })).await,
        "Invalid token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admits_valid_tokens_from_auth_payload_or_bearer_header() {
    let server = server().await;
    let token = common::user_token(SECRET, "7", &["editor"]);
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap(),
        json!([{ "id": "7", "roles": ["editor"] }])
    );

    let client = TestClient::builder(server.url())
        .header("Authorization", format!("Bearer {token}"))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap()[0]["id"],
        "7"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_namespace_requires_the_admin_role() {
    let server = server().await;
    let editor = common::user_token(SECRET, "2", &["editor"]);
    assert_eq!(
        refusal(&server, "/admin", json!({ "token": editor })).await,
        "Admin access required"
    );
    assert_eq!(
        refusal(&server, "/admin", json!({})).await,
        "Authentication required"
    );

    let admin = common::user_token(SECRET, "1", &["admin"]);
    let client = TestClient::builder(server.url())
        .namespace("/admin")
        .auth(json!({ "token": admin }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap()[0]["roles"],
        json!(["admin"])
    );
}

struct StoreDown;

#[async_trait::async_trait]
impl Verifier for StoreDown {
    async fn verify(&self, _: &str, _: VerifyContext<'_>) -> Result<Verified, VerifyError> {
        Err(VerifyError::Unavailable(
            "session store: connection refused".into(),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_failure_reads_authentication_failed_without_details() {
    let app = App::builder(())
        .on_connect(AuthLayer::new(StoreDown))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(
        refusal(&server, "/", json!({ "token": "anything" })).await,
        "Authentication failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_token_gets_auth_expired_then_disconnect() {
    let server = server().await;
    // JWT expiry has one-second granularity: this token expires one to two seconds from now.
    let token = common::jwt(SECRET, json!({ "sub": "9", "exp": common::now_secs() + 2 }));
    let mut client = TestClient::builder(server.url())
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap()[0]["id"],
        "9"
    );

    let expired = client.wait_for("auth:expired").await.unwrap();
    assert_eq!(expired, vec![json!({ "message": "Token expired" })]);
    client.wait_for("disconnect").await.unwrap();
}
