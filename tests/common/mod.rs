//! Pieces shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use iostack::{BoxError, ConnectRequest, Identity};
use tower::filter::AsyncFilterLayer;

/// A connect layer admitting `auth.token` values of the form `user:<id>[:<role>]`.
pub fn token_auth() -> AsyncFilterLayer<
    impl Fn(ConnectRequest) -> std::future::Ready<Result<ConnectRequest, BoxError>> + Clone,
> {
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
