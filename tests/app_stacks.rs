//! App-wide stacks: the builder's connect and event layers guard every namespace, a namespace's own
//! layers run inside them, opting out is explicit, and hooks cannot open undeclared namespaces.

mod common;

use std::time::Duration;

use iostack::{
    App, BuildError, HookRoutes, Hooks, Identity,
    extract::{AckSender, Data},
    middleware::rate_limit::RateLimitLayer,
};
use iostack_testing::{TestClient, TestError, TestServer};
use serde_json::{Value, json};

async fn refusal(server: &TestServer, ns: &str, auth: Value) -> String {
    match TestClient::builder(server.url())
        .namespace(ns)
        .auth(auth)
        .connect()
        .await
    {
        Err(TestError::Refused(message)) => message,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("connection to {ns} admitted without credentials"),
    }
}

async fn whoami(user: Identity, ack: AckSender) {
    let _ = ack.send(&json!({ "id": user.id }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_auth_guards_namespaces_declared_without_layers() {
    let app = App::builder(())
        .namespace("/declared-first", |ns| ns.on("whoami", whoami))
        .on_connect(common::token_auth())
        .namespace("/declared-after", |ns| ns.on("whoami", whoami))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();

    for ns in ["/", "/declared-first", "/declared-after"] {
        assert_eq!(
            refusal(&server, ns, json!({})).await,
            "Authentication required",
            "namespace {ns}"
        );
    }
    let client = TestClient::builder(server.url())
        .namespace("/declared-after")
        .auth(json!({ "token": "user:7" }))
        .connect()
        .await
        .unwrap();
    let reply = client.emit_with_ack("whoami", json!(null)).await.unwrap();
    assert_eq!(reply, json!([{ "id": "7" }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_layers_run_inside_the_app_stack() {
    // The namespace's own admin check only ever sees authenticated requests: a client without a
    // token hears the app's message, a plain user the namespace's.
    let admin_only = tower::filter::FilterLayer::new(|req: iostack::ConnectRequest| {
        match req
            .identity()
            .map(|user| user.roles.iter().any(|r| r == "admin"))
        {
            Some(true) => Ok(req),
            _ => Err(iostack::BoxError::from("Admin access required")),
        }
    });
    let app = App::builder(())
        .on_connect(common::token_auth())
        .namespace("/admin", |ns| {
            ns.on_connect(admin_only).on("whoami", whoami)
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();

    assert_eq!(
        refusal(&server, "/admin", json!({})).await,
        "Authentication required"
    );
    assert_eq!(
        refusal(&server, "/admin", json!({ "token": "user:1" })).await,
        "Admin access required"
    );
    let admin = TestClient::builder(server.url())
        .namespace("/admin")
        .auth(json!({ "token": "user:2:admin" }))
        .connect()
        .await
        .unwrap();
    let reply = admin.emit_with_ack("whoami", json!(null)).await.unwrap();
    assert_eq!(reply, json!([{ "id": "2" }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_event_layers_limit_every_namespace() {
    let echo = async |Data(v): Data<Value>, ack: AckSender| {
        let _ = ack.send(&v);
    };
    let app = App::builder(())
        .on_event(RateLimitLayer::per_socket(1, Duration::from_secs(3600)))
        .namespace("/chat", |ns| ns.on("echo", echo))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::builder(server.url())
        .namespace("/chat")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("echo", json!(1)).await.unwrap(),
        json!([1])
    );
    let refused = client.emit_with_ack("echo", json!(2)).await.unwrap();
    assert_eq!(
        refused,
        json!([{ "error": { "message": "Too many requests. Please slow down." } }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_namespaces_are_outside_the_app_stack() {
    let app = App::builder(())
        .on_connect(common::token_auth())
        .public_namespace("/status", |ns| {
            ns.on("ping", async |ack: AckSender| {
                let _ = ack.send(&"pong");
            })
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(
        refusal(&server, "/", json!({})).await,
        "Authentication required"
    );
    let client = TestClient::builder(server.url())
        .namespace("/status")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.emit_with_ack("ping", json!(null)).await.unwrap(),
        json!(["pong"])
    );
}

struct ChatHooks;

#[iostack::async_trait]
impl Hooks<()> for ChatHooks {
    fn name(&self) -> &str {
        "ChatHooks"
    }

    fn routes(self: std::sync::Arc<Self>, routes: &mut HookRoutes<()>) {
        routes.on("/chat", "whoami", whoami);
    }
}

#[tokio::test]
async fn hooks_naming_an_undeclared_namespace_fail_the_build() {
    let err = App::builder(()).hooks(ChatHooks).build().await.err();
    match err {
        Some(BuildError::Config(message)) => assert_eq!(
            message,
            "hooks `ChatHooks` use namespace `/chat`, which is not declared: add \
             `.namespace(\"/chat\", |ns| ns)` to the builder"
        ),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    App::builder(())
        .namespace("/chat", |ns| ns)
        .hooks(ChatHooks)
        .build()
        .await
        .expect("declared namespaces accept hook handlers");
}
