//! IP allowlist, rate limits, connection log and event statistics over real connections.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use iostack::{
    App, EventRequest,
    extract::AckSender,
    middleware::{
        auth::{AuthLayer, JwtVerifier},
        event_stats::{EventStats, EventStatsLayer},
        ip_allowlist::IpAllowlistLayer,
        logging::{ConnectionLogLayer, ConnectionRecord, ConnectionSink, Outcome},
        rate_limit::{ConnectRateLimitLayer, RateLimitLayer},
    },
};
use iostack_testing::{TestClient, TestError, TestServer, Transport, WAIT};
use serde_json::json;
use tower::ServiceBuilder;

async fn serve_with_allowlist(layer: IpAllowlistLayer) -> TestServer {
    let app = App::builder(()).on_connect(layer).build().await.unwrap();
    TestServer::start(app).await.unwrap()
}

async fn outcome(server: &TestServer, xff: Option<&str>) -> Result<(), String> {
    let mut client = TestClient::builder(server.url());
    if let Some(xff) = xff {
        client = client.header("X-Forwarded-For", xff);
    }
    match client.connect().await {
        Ok(_) => Ok(()),
        Err(TestError::Refused(message)) => Err(message),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_allowlist_admits_listed_peers_and_refuses_others() {
    let allowed =
        serve_with_allowlist(IpAllowlistLayer::new(["127.0.0.1/32", "::1"]).unwrap()).await;
    assert_eq!(outcome(&allowed, None).await, Ok(()));

    let other =
        serve_with_allowlist(IpAllowlistLayer::new(["10.0.0.0/8", "2001:db8::/32"]).unwrap()).await;
    assert_eq!(
        outcome(&other, None).await,
        Err("IP not whitelisted".into())
    );

    let denied = serve_with_allowlist(IpAllowlistLayer::denylist(["127.0.0.0/8"]).unwrap()).await;
    assert_eq!(
        outcome(&denied, None).await,
        Err("IP not whitelisted".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    // The client claims an allowed address, but its direct peer (127.0.0.1) is not a trusted proxy.
    let spoofable = serve_with_allowlist(IpAllowlistLayer::new(["203.0.113.5"]).unwrap()).await;
    assert_eq!(
        outcome(&spoofable, Some("203.0.113.5")).await,
        Err("IP not whitelisted".into())
    );

    // Behind a trusted proxy (127.0.0.1), the forwarded address decides.
    let proxied = IpAllowlistLayer::new(["203.0.113.5"])
        .unwrap()
        .trusted_proxies(["127.0.0.1"])
        .unwrap();
    let proxied = serve_with_allowlist(proxied).await;
    assert_eq!(outcome(&proxied, Some("203.0.113.5")).await, Ok(()));
    assert_eq!(
        outcome(&proxied, Some("198.51.100.1")).await,
        Err("IP not whitelisted".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_allowlist_as_http_layer_refuses_before_the_handshake() {
    let app = App::builder(()).build().await.unwrap();
    let app = app.http_layer(IpAllowlistLayer::new(["10.0.0.0/8"]).unwrap());
    let server = TestServer::start(app).await.unwrap();
    let response = reqwest::get(format!(
        "{}/socket.io/?EIO=4&transport=polling",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.text().await.unwrap(), "IP not whitelisted");
    let refused = TestClient::builder(server.url())
        .transport(Transport::Polling)
        .connect()
        .await;
    assert!(
        matches!(&refused, Err(e) if !matches!(e, TestError::Refused(_))),
        "refused at the HTTP level, before any namespace: {:?}",
        refused.err()
    );

    let app = App::builder(())
        .build()
        .await
        .unwrap()
        .http_layer(IpAllowlistLayer::new(["127.0.0.1"]).unwrap());
    let server = TestServer::start(app).await.unwrap();
    TestClient::builder(server.url())
        .transport(Transport::Polling)
        .connect()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_refuses_then_lets_events_through_after_refill() {
    let limited = Arc::new(AtomicUsize::new(0));
    let counter = limited.clone();
    let app = App::builder(())
        .on_event(
            RateLimitLayer::per_socket(3, Duration::from_secs(15)).on_limit(
                move |_: &EventRequest| {
                    counter.fetch_add(1, Ordering::SeqCst);
                },
            ),
        )
        .on("ping", async |ack: AckSender| {
            let _ = ack.send(&"pong");
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let mut client = TestClient::connect(&server.url()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            client.emit_with_ack("ping", json!(null)).await.unwrap(),
            json!(["pong"])
        );
    }
    let refused = client.emit_with_ack("ping", json!(null)).await.unwrap();
    assert_eq!(
        refused,
        json!([{ "error": { "message": "Too many requests. Please slow down." } }])
    );
    client.emit("ping", json!(null)).await.unwrap();
    let error = client.wait_for("error").await.unwrap();
    assert_eq!(
        error,
        vec![json!({ "message": "Too many requests. Please slow down." })]
    );
    assert_eq!(limited.load(Ordering::SeqCst), 2);

    // One token refills every 5 s (long enough that none refills during the steps above on a
    // loaded machine): a later event passes again.
    let passed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let reply = client.emit_with_ack("ping", json!(null)).await.unwrap();
            if reply == json!(["pong"]) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // pacing the retries, not synchronising
        }
    })
    .await;
    assert!(passed.is_ok(), "events pass again once tokens refill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_rate_limit_refuses_a_burst_of_attempts_from_one_ip() {
    let app = App::builder(())
        .on_connect(ConnectRateLimitLayer::per_ip(2, Duration::from_secs(60)))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    TestClient::connect(&server.url()).await.unwrap();
    TestClient::connect(&server.url()).await.unwrap();
    match TestClient::connect(&server.url()).await {
        Err(TestError::Refused(message)) => assert_eq!(
            message,
            "Too many connection attempts. Please try again later."
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[derive(Clone, Default)]
struct Collect(
    Arc<Mutex<Vec<(&'static str, ConnectionRecord)>>>,
    Arc<tokio::sync::Notify>,
);

impl ConnectionSink for Collect {
    fn on_attempt(&self, record: &ConnectionRecord) {
        self.0.lock().unwrap().push(("attempt", record.clone()));
        self.1.notify_one();
    }
    fn on_disconnect(&self, record: &ConnectionRecord) {
        self.0.lock().unwrap().push(("disconnect", record.clone()));
        self.1.notify_one();
    }
}

impl Collect {
    async fn wait_for(&self, n: usize) -> Vec<(&'static str, ConnectionRecord)> {
        tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.1.notified();
                if self.0.lock().unwrap().len() >= n {
                    return self.0.lock().unwrap().clone();
                }
                notified.await;
            }
        })
        .await
        .expect("records in time")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_log_records_admitted_and_rejected_attempts_and_sessions() {
    let sink = Collect::default();
    let app = App::builder(())
        .on_connect(
            ServiceBuilder::new()
                .layer(ConnectionLogLayer::new().sink(sink.clone()))
                .layer(AuthLayer::new(JwtVerifier::hs256("k"))),
        )
        .on("ping", async |ack: AckSender| {
            let _ = ack.send(&1);
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert!(matches!(
        TestClient::connect(&server.url()).await,
        Err(TestError::Refused(m)) if m == "Authentication required"
    ));
    let client = TestClient::builder(server.url())
        .auth(json!({ "token": common::user_token("k", "42", &[]) }))
        .header("User-Agent", "log-test")
        .connect()
        .await
        .unwrap();
    client.emit_with_ack("ping", json!(null)).await.unwrap();
    client.disconnect().await.unwrap();

    let records = sink.wait_for(3).await;
    let (kind, rejected) = &records[0];
    assert_eq!(*kind, "attempt");
    assert_eq!(
        rejected.outcome,
        Outcome::Rejected("Authentication required".into())
    );
    assert_eq!(
        rejected.peer.map(|p| p.ip().to_string()),
        Some("127.0.0.1".into())
    );
    let (kind, admitted) = &records[1];
    assert_eq!((*kind, &admitted.outcome), ("attempt", &Outcome::Admitted));
    assert_eq!(admitted.user_id.as_deref(), Some("42"));
    assert_eq!(admitted.user_agent.as_deref(), Some("log-test"));
    let (kind, closed) = &records[2];
    assert_eq!(*kind, "disconnect");
    assert_eq!(closed.socket_id, admitted.socket_id);
    assert!(closed.duration.is_some() && closed.disconnected_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stats_count_every_event_by_name() {
    let stats = EventStats::new();
    let app = App::builder(())
        .on_event(EventStatsLayer::new(stats.clone()))
        .on("a", async |ack: AckSender| {
            let _ = ack.send(&1);
        })
        .on("b", async |ack: AckSender| {
            let _ = ack.send(&1);
        })
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let client = TestClient::connect(&server.url()).await.unwrap();
    for event in ["a", "b", "a", "a"] {
        client.emit_with_ack(event, json!(null)).await.unwrap();
    }
    let counts: Vec<_> = stats
        .snapshot()
        .into_iter()
        .map(|e| (e.event, e.count))
        .collect();
    assert_eq!(counts, [("a".to_owned(), 3), ("b".to_owned(), 1)]);
    assert!(stats.rate(Duration::from_secs(60)) > 0.0);
}

/// Connects to `ns` with an optional `X-Forwarded-For`; the refusal message if refused.
async fn attempt(server: &TestServer, ns: &str, xff: Option<&str>) -> Result<(), String> {
    let mut builder = TestClient::builder(server.url()).namespace(ns);
    if let Some(xff) = xff {
        builder = builder.header("x-forwarded-for", xff);
    }
    match builder.connect().await {
        Ok(client) => {
            let _ = client.disconnect().await;
            Ok(())
        }
        Err(TestError::Refused(message)) => Err(message),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_rate_limit_is_one_budget_across_namespaces_and_honours_trusted_proxies() {
    const REFUSED: &str = "Too many connection attempts. Please try again later.";
    let hour = Duration::from_secs(3600);
    let app = App::builder(())
        .on_connect(ConnectRateLimitLayer::per_ip(1, hour))
        .namespace("/chat", |ns| ns)
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(attempt(&server, "/", None).await, Ok(()));
    assert_eq!(
        attempt(&server, "/chat", None).await,
        Err(REFUSED.into()),
        "another namespace does not get a budget of its own"
    );

    let behind_proxy = ConnectRateLimitLayer::per_ip(1, hour)
        .trusted_proxies(["127.0.0.1"])
        .unwrap();
    let app = App::builder(())
        .on_connect(behind_proxy)
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(attempt(&server, "/", Some("203.0.113.1")).await, Ok(()));
    assert_eq!(
        attempt(&server, "/", Some("203.0.113.1")).await,
        Err(REFUSED.into())
    );
    assert_eq!(
        attempt(&server, "/", Some("203.0.113.2")).await,
        Ok(()),
        "each client behind the proxy has its own budget"
    );
}
