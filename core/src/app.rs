//! [`App`]: a built server, its handles and its HTTP service.

use std::sync::Arc;

use socketioxide::layer::SocketIoLayer;
use tokio::task::AbortHandle;

use crate::{
    AnyAdapter, AppContext, Health, Io, adapter::DynAdapter, hooks::HookList,
    shutdown::ShutdownOptions,
};

/// A built server: namespaces registered, init hooks run, ready to be served.
pub struct App<S> {
    pub(crate) layer: SocketIoLayer<AnyAdapter>,
    pub(crate) cx: Arc<AppContext<S>>,
    pub(crate) hooks: HookList<S>,
    pub(crate) adapter: Arc<dyn DynAdapter>,
    pub(crate) shutdown: ShutdownOptions,
    pub(crate) background: Vec<AbortHandle>,
    pub(crate) routes: axum::Router,
    pub(crate) http_layers: Vec<HttpLayer>,
    pub(crate) limits: crate::ServerLimits,
}

/// A tower layer over the whole HTTP service, type-erased by axum.
pub(crate) type HttpLayer = Arc<dyn Fn(axum::Router) -> axum::Router + Send + Sync>;

impl<S> Drop for App<S> {
    fn drop(&mut self) {
        self.stop_background_tasks();
    }
}

impl<S> App<S> {
    /// The server handle.
    pub fn io(&self) -> &Io {
        &self.cx.io
    }

    /// The app state.
    pub fn state(&self) -> &S {
        &self.cx.state
    }

    /// The socket.io tower layer, to put on your own router or service.
    ///
    /// For peer addresses, serve with `into_make_service_with_connect_info::<SocketAddr>()`.
    /// [`App::router`] is leaner: with this layer alone, each socket keeps its handshake request's
    /// slice of hyper's read buffer (8 KiB) for its whole life.
    pub fn layer(&self) -> SocketIoLayer<AnyAdapter> {
        self.layer.clone()
    }

    /// Adds HTTP routes (monitoring, health checks, your API) served beside socket.io.
    pub fn merge(mut self, routes: axum::Router) -> Self {
        self.routes = std::mem::take(&mut self.routes).merge(routes);
        self
    }

    /// Wraps the whole HTTP service (socket.io included) in `layer`, e.g. an IP allowlist that
    /// refuses before any Engine.IO work. Layers added later run first.
    pub fn http_layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower_service::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.http_layers.push(Arc::new(move |router: axum::Router| {
            router.layer(layer.clone())
        }));
        self
    }

    /// Lets the browsers of other origins in, as `cors` says, and refuses the rest with `403`
    /// (polling requests, preflights and websocket upgrades alike); see [`crate::cors`].
    pub fn cors(self, cors: crate::cors::Cors) -> Self {
        let layer = cors.layer();
        self.http_layer(layer)
            .http_layer(axum::middleware::from_fn_with_state(
                cors,
                crate::cors::guard,
            ))
    }

    /// An axum router that serves socket.io at `/socket.io`, the merged routes, and 404 elsewhere,
    /// inside the HTTP layers.
    ///
    /// Request heads are copied out of hyper's read buffer first: socket.io keeps each session's
    /// handshake head, which would otherwise pin that buffer (8 KiB) for the socket's life.
    pub fn router(&self) -> axum::Router {
        let router = self
            .routes
            .clone()
            .layer(self.layer())
            .layer(tower::util::MapRequestLayer::new(crate::serve::detach_head));
        self.http_layers
            .iter()
            .fold(router, |router, layer| layer(router))
    }

    /// A monitoring handle for this app (connection statistics, health, metrics routes).
    #[cfg(feature = "monitoring")]
    pub fn monitor(&self) -> crate::monitoring::Monitor {
        crate::monitoring::Monitor::new(self.cx.io.clone(), self.adapter.clone())
    }

    /// The state of the adapter's backing store.
    pub async fn health(&self) -> Health {
        self.adapter.health().await
    }

    pub(crate) fn hooks(&self) -> &HookList<S> {
        &self.hooks
    }

    pub(crate) fn shutdown_options(&self) -> &ShutdownOptions {
        &self.shutdown
    }

    pub(crate) fn stop_background_tasks(&self) {
        for task in &self.background {
            task.abort();
        }
    }
}
