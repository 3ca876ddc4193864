//! [`AuthLayer`] and its service [`Auth`].

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::SystemTime,
};

use iostack_core::{BoxError, BoxFuture, ConnectRequest};
use tower_layer::Layer;
use tower_service::Service;

use super::{
    AuthError, Verifier, VerifyContext, VerifyError,
    expiry::{ExpiryTimers, delay_until},
    extract_token,
};

/// Event a socket receives when its credential expires while it is connected; it is then disconnected.
pub const AUTH_EXPIRED_EVENT: &str = "auth:expired";

#[derive(Debug, Clone)]
struct RoleRequirement {
    role: String,
    message: String,
}

/// Authenticates every connection with a [`Verifier`] and attaches the identity to the socket.
#[derive(Debug)]
pub struct AuthLayer<V> {
    verifier: Arc<V>,
    role: Option<RoleRequirement>,
    expiries: ExpiryTimers,
}

impl<V> Clone for AuthLayer<V> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            role: self.role.clone(),
            expiries: self.expiries.clone(),
        }
    }
}

impl<V: Verifier> AuthLayer<V> {
    /// Authenticates with `verifier`.
    pub fn new(verifier: V) -> Self {
        Self {
            verifier: Arc::new(verifier),
            role: None,
            expiries: ExpiryTimers::default(),
        }
    }

    /// Also requires `role`; refusal reads `<Role> access required` (e.g. `Admin access required`).
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        let role = role.into();
        self.role = Some(RoleRequirement {
            message: access_required(&role),
            role,
        });
        self
    }

    /// Sets the refusal message of [`require_role`](Self::require_role).
    pub fn role_message(mut self, message: impl Into<String>) -> Self {
        if let Some(role) = &mut self.role {
            role.message = message.into();
        }
        self
    }
}

/// `<Role> access required`, the refusal for an identity without `role`.
pub(super) fn access_required(role: &str) -> String {
    let mut chars = role.chars();
    let capitalized: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{capitalized} access required")
}

impl<S, V> Layer<S> for AuthLayer<V> {
    type Service = Auth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug)]
pub struct Auth<S, V> {
    inner: S,
    layer: AuthLayer<V>,
}

impl<S: Clone, V> Clone for Auth<S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, V> Service<ConnectRequest> for Auth<S, V>
where
    V: Verifier,
    S: Service<ConnectRequest, Response = ConnectRequest> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = ConnectRequest;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<ConnectRequest, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: ConnectRequest) -> Self::Future {
        // The clone is not ready; the original is, and goes into the future.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let token = extract_token(req.auth(), req.headers()).ok_or(AuthError::MissingToken)?;
            let cx = VerifyContext {
                ns: req.ns(),
                peer: req.peer(),
                headers: req.headers(),
            };
            let verified = match layer.verifier.verify(&token, cx).await {
                Ok(verified) => verified,
                Err(VerifyError::Invalid(reason)) => {
                    tracing::info!(ns = req.ns(), peer = ?req.peer(), ?reason, "invalid token");
                    return Err(AuthError::InvalidToken.into());
                }
                Err(VerifyError::Unavailable(reason)) => {
                    tracing::error!(ns = req.ns(), peer = ?req.peer(), ?reason, "authentication failed");
                    return Err(AuthError::Failed.into());
                }
            };
            if let Some(required) = &layer.role
                && !verified.identity.has_role(&required.role)
            {
                tracing::info!(ns = req.ns(), user = %verified.identity.id, role = %required.role, "role missing");
                return Err(AuthError::Forbidden(required.message.clone()).into());
            }
            req.set_identity(verified.identity);
            // The layers inside decide first: a socket they refuse never gets a timer.
            let mut req = inner.call(req).await.map_err(Into::into)?;
            if let Some(expires_at) = verified.expires_at {
                expire_at(&layer.expiries, &mut req, expires_at);
            }
            Ok(req)
        })
    }
}

/// Disconnects the socket with [`AUTH_EXPIRED_EVENT`] when its credential expires.
///
/// The timer lives in the request's disconnect callbacks: it ends when the socket disconnects, and
/// when the callbacks are dropped because an outer layer refused the socket or it never connected.
fn expire_at(expiries: &ExpiryTimers, req: &mut ConnectRequest, expires_at: SystemTime) {
    let socket = req.socket().clone();
    let delay = delay_until(expires_at, SystemTime::now());
    let timer = expiries.start(delay, move || {
        if socket.connected() {
            tracing::info!(socket.id = %socket.id, ns = socket.ns(), "credential expired, disconnecting");
            let _ = socket.emit(
                AUTH_EXPIRED_EVENT,
                &serde_json::json!({ "message": "Token expired" }),
            );
            let _ = socket.disconnect();
        }
    });
    req.on_disconnect(move |_, _| drop(timer));
}
