//! Shared test support: a token verifier (`id:name:role,role`), clients, and the article policy
//! and payloads of the subscription tests.

#![allow(dead_code, unreachable_pub)]

use iostack_core::Identity;
use iostack_middleware::auth::{Verified, Verifier, VerifyContext, VerifyError};
use iostack_presence::{Filter, RolePolicy};
use iostack_testing::TestClient;
use serde_json::{Value, json};

/// Tokens `id:name:role,role` become identities; anything else is refused.
pub struct Tokens;

#[async_trait::async_trait]
impl Verifier for Tokens {
    async fn verify(&self, token: &str, _: VerifyContext<'_>) -> Result<Verified, VerifyError> {
        let mut parts = token.split(':');
        let (Some(id), Some(name)) = (parts.next(), parts.next()) else {
            return Err(VerifyError::Invalid("bad token".into()));
        };
        let mut identity = Identity::new(id).with_username(name);
        for role in parts
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|r| !r.is_empty())
        {
            identity = identity.with_role(role);
        }
        Ok(Verified {
            identity,
            expires_at: None,
        })
    }
}

/// A client of `url` authenticated with `token`.
pub async fn client(url: &str, token: &str) -> TestClient {
    TestClient::builder(url)
        .auth(json!({ "token": token }))
        .connect()
        .await
        .expect("client connects")
}

/// Editors read every article; readers read published ones, without `internalNotes`.
pub fn article_policy() -> RolePolicy {
    RolePolicy::new()
        .read("editor", "article")
        .read_where(
            "reader",
            "article",
            Filter::parse(&json!({ "status": "published" })).unwrap(),
        )
        .hide("reader", "article", ["internalNotes"])
}

/// An article entry with a title and a field readers may not see.
pub fn article(id: u64, status: &str) -> Value {
    json!({ "id": id, "status": status, "title": format!("t{id}"), "internalNotes": "secret" })
}

/// Every event up to a `marker` the server sends last, as `[event, data]`.
pub async fn received(client: &mut TestClient) -> Vec<Value> {
    client
        .events_until("marker")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event != "marker")
        .map(|r| json!([r.event, r.args[0]]))
        .collect()
}
