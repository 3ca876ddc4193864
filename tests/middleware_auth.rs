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
    // JWT expiry has one-second granularity: this token expires three to four seconds from now,
    // time enough to connect and ask on a loaded machine, and within the wait for `auth:expired`.
    let token = common::jwt(SECRET, json!({ "sub": "9", "exp": common::now_secs() + 4 }));
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

/// Seconds since the Unix epoch, with the fraction.
fn now_secs_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_tokens_not_valid_yet_or_issued_in_the_future() {
    let server = server().await;
    let now = common::now_secs();
    for claims in [
        json!({ "sub": "1", "exp": now + 7200, "nbf": now + 3600 }),
        json!({ "sub": "1", "exp": now + 7200, "nbf": now as f64 + 60.5 }),
        json!({ "sub": "1", "exp": now + 7200, "iat": now + 3600 }),
    ] {
        let token = common::jwt(SECRET, claims.clone());
        assert_eq!(
            refusal(&server, "/", json!({ "token": token })).await,
            "Invalid token",
            "{claims}"
        );
    }
    // A token whose `nbf` has passed is admitted.
    let token = common::jwt(
        SECRET,
        json!({ "sub": "5", "exp": now + 7200, "nbf": now - 1, "iat": now - 1 }),
    );
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": token }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap()[0]["id"],
        "5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_huge_negative_and_non_numeric_time_claims_with_invalid_token() {
    let server = server().await;
    let now = common::now_secs();
    for claims in [
        json!({ "sub": "1", "exp": u64::MAX }),
        json!({ "sub": "1", "exp": 1e300 }),
        json!({ "sub": "1", "exp": 18_446_744_073_709_551_000.0 }),
        json!({ "sub": "1", "exp": -1 }),
        json!({ "sub": "1", "exp": "9999999999" }),
        json!({ "sub": "1", "exp": [now + 60] }),
        json!({ "sub": "1", "exp": now + 60, "nbf": "now" }),
        json!({ "sub": "1", "exp": now + 60, "iat": 1e300 }),
    ] {
        let token = common::jwt(SECRET, claims.clone());
        assert_eq!(
            refusal(&server, "/", json!({ "token": token })).await,
            "Invalid token",
            "{claims}"
        );
    }
    // The server is still answering after all of them.
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": common::user_token(SECRET, "3", &[]) }))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("whoami", json!(null)).await.unwrap()[0]["id"],
        "3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_exp_expires_the_session() {
    let server = server().await;
    // A fractional `exp` 3.5 s from now: the session must end then, not live forever.
    let token = common::jwt(SECRET, json!({ "sub": "9", "exp": now_secs_f64() + 3.5 }));
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

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text packet that is not an Engine.IO ping.
async fn next_packet(ws: &mut Ws) -> String {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match ws.next().await.expect("open").expect("frame") {
            Message::Text(t) if t.as_str() != "2" => return t.to_string(),
            _ => {}
        }
    }
}

/// Opens an Engine.IO session over a raw WebSocket, sends CONNECT to `ns` with `auth`, and returns
/// the server's answer packet; the session is closed before returning.
async fn raw_connect(addr: std::net::SocketAddr, ns: &str, auth: &serde_json::Value) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(next_packet(&mut ws).await.starts_with('0'), "open packet");
    let prefix = if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    };
    ws.send(Message::text(format!("40{prefix}{auth}")))
        .await
        .unwrap();
    let answer = next_packet(&mut ws).await;
    ws.close(None).await.unwrap();
    // Wait for the server's side of the close: the session is over on both ends.
    while let Some(Ok(_)) = ws.next().await {}
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sockets_leave_no_expiry_timer_behind() {
    use iostack::{BoxError, ConnectRequest};
    use std::time::Duration;
    use tower::{ServiceBuilder, filter::AsyncFilterLayer};
    /// Tasks the server may start lazily with its first session and keep (fewer than the 20
    /// timers a leak would leave).
    const SLACK: usize = 4;

    // The server runs on its own runtime, so its task count is the server's alone.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = App::builder(())
        // What a refused session holds is released at the connect timeout: keep it short.
        .connect_timeout(Duration::from_millis(500))
        // A layer inside auth refuses: the timer must never start.
        .on_connect(
            ServiceBuilder::new()
                .layer(AuthLayer::new(JwtVerifier::hs256(SECRET)))
                .layer(AsyncFilterLayer::new(|_: ConnectRequest| async {
                    Err::<ConnectRequest, BoxError>("Server is full".into())
                })),
        )
        // A layer outside auth refuses after auth admitted: the started timer must end. (Outside
        // the app's stack, which would refuse first.)
        .public_namespace("/late", |ns| {
            ns.on_connect(
                ServiceBuilder::new()
                    .map_result(|_: Result<ConnectRequest, BoxError>| {
                        Err::<ConnectRequest, BoxError>("Refused late".into())
                    })
                    .layer(AuthLayer::new(JwtVerifier::hs256(SECRET))),
            )
        })
        .build()
        .await
        .unwrap();
    let server = server_rt
        .spawn(TestServer::start(app))
        .await
        .unwrap()
        .unwrap();
    let addr = server.addr();
    // The token is valid for an hour: a timer left behind would stay alive for the whole test.
    let auth = json!({ "token": common::user_token(SECRET, "1", &[]) });
    let alive = || server_rt.metrics().num_alive_tasks();
    let attempts = async |ns: &str, count: usize, expected: &str| {
        for _ in 0..count {
            assert_eq!(raw_connect(addr, ns, &auth).await, expected);
        }
    };
    // Waits until the refused sessions have wound down to `target` server tasks (bounded); nothing
    // signals a task's end, so the count is polled.
    let settle = async |target: usize| {
        tokio::time::timeout(Duration::from_secs(30), async {
            while alive() > target {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok()
    };

    // One attempt first, then let it wind down: whatever the server keeps after its first session
    // is in the baseline.
    let idle = alive();
    attempts("/", 1, r#"44{"message":"Server is full"}"#).await;
    assert!(
        settle(idle + SLACK).await,
        "the first refused session never wound down: {} tasks alive, {idle} before it",
        alive()
    );
    let baseline = alive();

    attempts("/", 20, r#"44{"message":"Server is full"}"#).await;
    attempts("/late", 20, r#"44/late,{"message":"Refused late"}"#).await;
    // Once the sessions are gone, 20 leaked timers would hold 20 tasks above the baseline.
    let settled = settle(baseline).await;
    println!(
        "server tasks: {idle} idle, {baseline} after the first session, {} after 40 refusals settled",
        alive()
    );
    assert!(
        settled,
        "expiry timers left behind by refused sockets: {} tasks alive, {baseline} before",
        alive()
    );
    drop(server);
    server_rt.shutdown_background();
}
