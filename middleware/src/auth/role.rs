//! [`RequireRoleLayer`]: admits only identities with a role, for namespaces inside an app-wide
//! [`AuthLayer`](super::AuthLayer).

use std::task::{Context, Poll};

use iostack_core::{BoxError, ConnectRequest};
use tower_layer::Layer;
use tower_service::Service;

use super::AuthError;
use crate::future::ResponseFuture;

/// Admits a connection only if an outer layer authenticated it with `role`.
///
/// The app's [`AuthLayer`](super::AuthLayer) already runs for every namespace; a namespace that
/// needs more than a valid token adds this inside it, so the token is verified once:
///
/// ```
/// use iostack_core::App;
/// use iostack_middleware::auth::{AuthLayer, JwtVerifier, RequireRoleLayer};
///
/// # async fn run() -> Result<(), iostack_core::BuildError> {
/// let app = App::builder(())
///     .on_connect(AuthLayer::new(JwtVerifier::hs256("secret")))
///     .namespace("/admin", |ns| ns.on_connect(RequireRoleLayer::new("admin")))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
///
/// A request without identity is refused with `Authentication required`; one without the role
/// with `<Role> access required` (e.g. `Admin access required`), or the text of
/// [`message`](Self::message).
#[derive(Debug, Clone)]
pub struct RequireRoleLayer {
    role: String,
    message: String,
}

impl RequireRoleLayer {
    /// Requires `role`.
    pub fn new(role: impl Into<String>) -> Self {
        let role = role.into();
        Self {
            message: super::layer::access_required(&role),
            role,
        }
    }

    /// Sets the refusal message for identities without the role.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl<S> Layer<S> for RequireRoleLayer {
    type Service = RequireRole<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireRole {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RequireRoleLayer`].
#[derive(Debug, Clone)]
pub struct RequireRole<S> {
    inner: S,
    layer: RequireRoleLayer,
}

impl<S> Service<ConnectRequest> for RequireRole<S>
where
    S: Service<ConnectRequest, Response = ConnectRequest>,
    S::Error: Into<BoxError>,
{
    type Response = ConnectRequest;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: ConnectRequest) -> Self::Future {
        match req.identity() {
            None => ResponseFuture::refused(AuthError::MissingToken),
            Some(user) if !user.roles.contains(&self.layer.role) => {
                ResponseFuture::refused(AuthError::Forbidden(self.layer.message.clone()))
            }
            Some(_) => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_message_names_the_role() {
        assert_eq!(
            RequireRoleLayer::new("admin").message,
            "Admin access required"
        );
        assert_eq!(
            RequireRoleLayer::new("admin")
                .message("Admins only")
                .message,
            "Admins only"
        );
    }
}
