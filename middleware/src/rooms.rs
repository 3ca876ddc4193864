//! Rooms joined automatically from the identity: the page's "auto-join rooms".
//!
//! ```
//! use iostack_core::App;
//! use iostack_middleware::rooms::{AutoJoinLayer, RoomRules};
//!
//! let rules = RoomRules::new()            // user-{id} and role-{role}
//!     .when_claim("premium", "premium")    // joins `premium` when the claim is true
//!     .claim_value("country", "country");  // joins `country-{value}`
//! let builder = App::builder(()).on_connect(AutoJoinLayer::new(rules));
//! ```
//!
//! Place the layer after the authentication layer: it reads the identity that layer attached.
//! The rooms are joined before the client hears it is connected, so nothing sent to them is missed.
//! Core already keeps `user-{id}` and `role-{role}` for every authenticated socket; the layer adds
//! the rooms of claims.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use iostack_core::{
    ConnectRequest, Identity,
    rooms::{role_room, user_room},
};
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

#[derive(Debug, Clone)]
enum Rule {
    User,
    Roles,
    WhenClaim { claim: String, room: String },
    ClaimValue { claim: String, prefix: String },
}

/// Which rooms an identity joins.
#[derive(Debug, Clone)]
pub struct RoomRules {
    rules: Vec<Rule>,
}

impl Default for RoomRules {
    /// `user-{id}` and `role-{role}` for each role.
    fn default() -> Self {
        Self::new()
    }
}

impl RoomRules {
    /// `user-{id}` and `role-{role}` for each role.
    pub fn new() -> Self {
        Self {
            rules: vec![Rule::User, Rule::Roles],
        }
    }

    /// No rule at all; add them one by one.
    pub fn empty() -> Self {
        Self { rules: Vec::new() }
    }

    /// Joins `user-{id}`.
    pub fn user(mut self) -> Self {
        self.rules.push(Rule::User);
        self
    }

    /// Joins `role-{role}` for each role.
    pub fn roles(mut self) -> Self {
        self.rules.push(Rule::Roles);
        self
    }

    /// Joins `room` when claim `claim` is `true`.
    pub fn when_claim(mut self, claim: impl Into<String>, room: impl Into<String>) -> Self {
        self.rules.push(Rule::WhenClaim {
            claim: claim.into(),
            room: room.into(),
        });
        self
    }

    /// Joins `{prefix}-{value}` for the value of claim `claim` (a string or a number).
    pub fn claim_value(mut self, claim: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.rules.push(Rule::ClaimValue {
            claim: claim.into(),
            prefix: prefix.into(),
        });
        self
    }

    /// The rooms `identity` joins under these rules, without duplicates.
    pub fn rooms_for(&self, identity: &Identity) -> Vec<String> {
        let mut rooms = Vec::new();
        for rule in &self.rules {
            match rule {
                Rule::User => rooms.push(user_room(&identity.id)),
                Rule::Roles => rooms.extend(identity.roles.iter().map(|r| role_room(r))),
                Rule::WhenClaim { claim, room } => {
                    if identity.claims.get(claim) == Some(&Value::Bool(true)) {
                        rooms.push(room.clone());
                    }
                }
                Rule::ClaimValue { claim, prefix } => match identity.claims.get(claim) {
                    Some(Value::String(v)) if !v.is_empty() => rooms.push(format!("{prefix}-{v}")),
                    Some(Value::Number(n)) => rooms.push(format!("{prefix}-{n}")),
                    _ => {}
                },
            }
        }
        let mut seen = std::collections::HashSet::new();
        rooms.retain(|r| seen.insert(r.clone()));
        rooms
    }
}

/// A connect layer that makes authenticated sockets join the rooms of their [`RoomRules`].
#[derive(Debug, Clone)]
pub struct AutoJoinLayer {
    rules: Arc<RoomRules>,
}

impl AutoJoinLayer {
    /// Applies `rules` to every admitted identity.
    pub fn new(rules: RoomRules) -> Self {
        Self {
            rules: Arc::new(rules),
        }
    }
}

impl<S> Layer<S> for AutoJoinLayer {
    type Service = AutoJoin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AutoJoin {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service of [`AutoJoinLayer`].
#[derive(Debug, Clone)]
pub struct AutoJoin<S> {
    inner: S,
    rules: Arc<RoomRules>,
}

impl<S> Service<ConnectRequest> for AutoJoin<S>
where
    S: Service<ConnectRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: ConnectRequest) -> Self::Future {
        if let Some(identity) = req.identity() {
            for room in self.rules.rooms_for(identity) {
                req.join(room);
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_rules_give_user_and_role_rooms() {
        let id = Identity::new("7").with_role("admin").with_role("editor");
        assert_eq!(
            RoomRules::new().rooms_for(&id),
            ["user-7", "role-admin", "role-editor"]
        );
    }

    #[test]
    fn claim_rules_follow_the_claims() {
        let rules = RoomRules::empty()
            .when_claim("premium", "premium")
            .claim_value("country", "country")
            .claim_value("tier", "tier");
        let id =
            Identity::new("1").with_claims(json!({ "premium": true, "country": "fr", "tier": 3 }));
        assert_eq!(rules.rooms_for(&id), ["premium", "country-fr", "tier-3"]);
        let id = Identity::new("1").with_claims(json!({ "premium": "yes", "country": "" }));
        assert!(rules.rooms_for(&id).is_empty());
    }

    #[test]
    fn duplicate_rooms_are_joined_once() {
        let id = Identity::new("1");
        assert_eq!(RoomRules::new().user().rooms_for(&id), ["user-1"]);
    }
}
