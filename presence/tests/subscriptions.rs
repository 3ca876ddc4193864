//! Entity subscriptions and per-subscriber permissions against real clients, memory adapter.

mod support;

use iostack_core::{App, Io};
use iostack_middleware::auth::AuthLayer;
use iostack_presence::{Action, Permissions, RolePolicy, Subscriptions};
use iostack_testing::{TestClient, TestServer};
use serde_json::{Value, json};
use support::{Tokens, article, article_policy, client, received};

struct Fixture {
    server: TestServer,
    io: Io,
    subs: Subscriptions,
    policy: RolePolicy,
}

async fn fixture() -> Fixture {
    let policy = article_policy();
    let subs = Subscriptions::new(Permissions::new(policy.clone()));
    let app = App::builder(())
        .on_connect(AuthLayer::new(Tokens))
        .hooks(subs.clone())
        .build()
        .await
        .unwrap();
    let io = app.io().clone();
    let server = TestServer::start(app).await.unwrap();
    Fixture {
        server,
        io,
        subs,
        policy,
    }
}

async fn subscribe(client: &TestClient, spec: Value) -> Value {
    let ack = client.emit_with_ack("subscribe", spec).await.unwrap();
    ack[0].clone()
}

#[tokio::test]
async fn subscriptions_by_type_entry_and_filter_get_exactly_the_matching_events() {
    let f = fixture().await;
    let url = f.server.url();
    let mut by_type = client(&url, "1:Ed:editor").await;
    let mut by_entry = client(&url, "2:Ed2:editor").await;
    let mut by_filter = client(&url, "3:Ed3:editor").await;
    let mut reader = client(&url, "4:Rea:reader").await;
    assert!(subscribe(&by_type, json!({ "type": "article" })).await["subscription"].is_string());
    subscribe(&by_entry, json!({ "type": "article", "id": 2 })).await;
    subscribe(
        &by_filter,
        json!({ "type": "article", "filter": { "status": { "$in": ["review"] } } }),
    )
    .await;
    subscribe(&reader, json!({ "type": "article" })).await;
    subscribe(&reader, json!({ "type": "page" })).await; // refused below, joins nothing
    let published = f
        .subs
        .publish("article", Action::Create, &article(1, "draft"))
        .await
        .unwrap();
    assert_eq!(
        (published.matched, published.delivered),
        (2, 1),
        "{published:?}"
    );
    f.subs
        .publish("article", Action::Update, &article(2, "review"))
        .await
        .unwrap();
    f.subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    f.subs
        .publish("article", Action::Delete, &article(2, "review"))
        .await
        .unwrap();
    f.subs
        .publish("page", Action::Create, &json!({ "id": 1 }))
        .await
        .unwrap();
    f.io.emit("marker", &json!(null)).await.unwrap();

    let full = |a: &str, id, s| json!([a, { "type": "article", "data": article(id, s) }]);
    assert_eq!(
        received(&mut by_type).await,
        vec![
            full("create", 1, "draft"),
            full("update", 2, "review"),
            full("update", 3, "published"),
            full("delete", 2, "review")
        ]
    );
    assert_eq!(
        received(&mut by_entry).await,
        vec![full("update", 2, "review"), full("delete", 2, "review")]
    );
    assert_eq!(
        received(&mut by_filter).await,
        vec![full("update", 2, "review"), full("delete", 2, "review")]
    );
    assert_eq!(
        received(&mut reader).await,
        vec![
            json!(["update", { "type": "article", "data": { "id": 3, "status": "published", "title": "t3" } }])
        ],
        "a reader hears of published articles only, never of their internal notes"
    );
}

#[tokio::test]
async fn permission_changes_take_effect_on_the_next_message() {
    let f = fixture().await;
    let mut reader = client(&f.server.url(), "4:Rea:reader").await;
    subscribe(&reader, json!({ "type": "article" })).await;
    f.subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    f.policy.hide("reader", "article", ["title"]);
    f.subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    f.policy
        .show("reader", "article", ["title", "internalNotes"]);
    f.subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    f.policy.revoke("reader", "article");
    f.subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    f.subs
        .publish("article", Action::Delete, &article(3, "published"))
        .await
        .unwrap();
    f.io.emit("marker", &json!(null)).await.unwrap();
    let data: Vec<Value> = received(&mut reader)
        .await
        .into_iter()
        .map(|e| e[1]["data"].clone())
        .collect();
    assert_eq!(
        data,
        vec![
            json!({ "id": 3, "status": "published", "title": "t3" }),
            json!({ "id": 3, "status": "published" }),
            article(3, "published"),
        ]
    );
}

#[tokio::test]
async fn bad_requests_are_answered_with_clear_errors() {
    let f = fixture().await;
    let url = f.server.url();
    let reader = client(&url, "4:Rea:reader").await;
    let err = |m: &str| json!({ "error": { "message": m } });
    assert_eq!(
        subscribe(&reader, json!({ "type": "page" })).await,
        err("Forbidden: no read access to `page`")
    );
    assert_eq!(
        subscribe(
            &reader,
            json!({ "type": "article", "filter": { "views": { "$like": 1 } } })
        )
        .await,
        err(
            "filter.views: unknown operator `$like` (expected $eq, $ne, $in, $lt, $lte, $gt, $gte)"
        )
    );
    assert_eq!(
        subscribe(&reader, json!({ "id": 1 })).await,
        err("expected {type, id?, filter?}")
    );
    assert_eq!(
        subscribe(&reader, json!({ "type": "article", "id": [] })).await,
        err("`id` must be a string or a number")
    );
    let sub = subscribe(&reader, json!({ "type": "article" })).await;
    let left = reader
        .emit_with_ack("unsubscribe", sub.clone())
        .await
        .unwrap();
    assert_eq!(left, json!([{ "ok": true }]));
    let published = f
        .subs
        .publish("article", Action::Update, &article(3, "published"))
        .await
        .unwrap();
    assert_eq!(published.matched, 0);
}
