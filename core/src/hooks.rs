//! [`Hooks`]: code that runs at the lifecycle points of the server.

use std::{fmt, sync::Arc};

use socketioxide::socket::DisconnectReason;

use crate::{BoxedHandler, EventHandler, Io, extract::SocketRef};

/// What an `init` hook receives: the app state and the freshly built server.
pub struct InitContext<S> {
    /// The app state given to [`App::builder`](crate::App::builder).
    pub state: S,
    /// The server handle: namespaces exist, nothing is listening yet.
    pub io: Io,
}

/// Why a hook failed; its text names the cause and ends up in [`BuildError::Init`](crate::BuildError::Init).
///
/// Any error converts into it, so hooks can use `?`.
pub struct HookError(String);

impl HookError {
    /// A hook error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl<E: std::error::Error> From<E> for HookError {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Event handlers that hooks add to namespaces; what `#[hooks]` fills from `#[event]` methods.
pub struct HookRoutes<S> {
    pub(crate) routes: Vec<(String, String, BoxedHandler<S>)>,
    pub(crate) namespaces: Vec<String>,
}

impl<S> Default for HookRoutes<S> {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            namespaces: Vec::new(),
        }
    }
}

impl<S: 'static> HookRoutes<S> {
    /// Handles `event` in namespace `ns` with `handler`, through that namespace's event stack.
    pub fn on<H, T>(&mut self, ns: impl Into<String>, event: impl Into<String>, handler: H)
    where
        H: EventHandler<S, T>,
        T: 'static,
    {
        self.routes
            .push((ns.into(), event.into(), BoxedHandler::new(handler)));
    }

    /// Declares that the hooks act in namespace `ns` (lifecycle hooks limited to it), so that
    /// [`build`](crate::AppBuilder::build) refuses hooks naming a namespace the app never declared.
    pub fn uses(&mut self, ns: impl Into<String>) {
        self.namespaces.push(ns.into());
    }
}

/// Code run at the lifecycle points of an app; every method does nothing unless overridden.
///
/// Register with [`AppBuilder::hooks`](crate::AppBuilder::hooks); several can be registered and run in
/// registration order. `#[iostack::hooks]` writes this impl from an annotated `impl` block.
///
/// ```
/// use iostack_core::{Hooks, HookError, InitContext};
///
/// struct Greeter;
///
/// #[async_trait::async_trait]
/// impl Hooks<()> for Greeter {
///     async fn init(&self, cx: &mut InitContext<()>) -> Result<(), HookError> {
///         tracing::info!(adapter = cx.io.adapter_name(), "ready");
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Hooks<S>: Send + Sync + 'static
where
    S: Send + Sync + 'static,
{
    /// Name used in errors and logs.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// Adds event handlers to namespaces, before the server is built.
    fn routes(self: Arc<Self>, routes: &mut HookRoutes<S>) {
        let _ = routes;
    }

    /// Runs once, right after the server is constructed and before it listens.
    /// An error aborts [`build`](crate::AppBuilder::build) with this hook's name.
    async fn init(&self, cx: &mut InitContext<S>) -> Result<(), HookError> {
        let _ = cx;
        Ok(())
    }

    /// Runs when a socket is admitted to any namespace, before its first event is handled.
    async fn on_connection(&self, socket: &SocketRef) {
        let _ = socket;
    }

    /// Runs when an admitted socket disconnects, after its pending events are handled.
    async fn on_disconnect(&self, socket: &SocketRef, reason: DisconnectReason) {
        let _ = (socket, reason);
    }

    /// Runs when the server shuts down, before the sockets are closed.
    async fn on_shutdown(&self, io: &Io) {
        let _ = io;
    }

    /// Runs once the shutdown has disconnected every socket and their disconnect hooks ran,
    /// before [`serve`](crate::App::serve) returns: the place to flush what connections left
    /// behind (log writers, seats). Bounded by the shutdown's drain time, at least 5 s in all.
    async fn on_stopped(&self, io: &Io) {
        let _ = io;
    }
}

/// The hooks of an app, shared by every namespace.
pub(crate) type HookList<S> = Arc<[Arc<dyn Hooks<S>>]>;
