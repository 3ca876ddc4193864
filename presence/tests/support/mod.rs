//! Shared test support: a token verifier (`id:name:role,role`) and an app with presence.

#![allow(dead_code, unreachable_pub)]

use iostack_core::Identity;
use iostack_middleware::auth::{Verified, Verifier, VerifyContext, VerifyError};
use iostack_testing::TestClient;
use serde_json::json;

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
