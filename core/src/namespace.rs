//! [`NamespaceBuilder`]: one namespace's connect stack, event stack and handlers.

use std::sync::Arc;

use tower::{Service, ServiceExt, util::BoxCloneSyncService};
use tower_layer::{Identity, Layer, Stack};

use crate::{
    Admit, AppContext, BoxError, BoxedHandler, BuildError, ConnectRequest, EventHandler,
    EventRequest, Router,
    hooks::{HookList, HookRoutes},
    router::RouteTable,
};

/// Configures one namespace: its connect layers, its event layers and its handlers.
///
/// Layers run in the order they are added (the first added is the outermost), like
/// `tower::ServiceBuilder`, and inside the app's stacks: app connect stack → namespace connect
/// stack → admission, app event stack → namespace event stack → handler. The root namespace `/` is configured directly on the
/// [`AppBuilder`](crate::AppBuilder); other namespaces through
/// [`AppBuilder::namespace`](crate::AppBuilder::namespace).
pub struct NamespaceBuilder<S, CL = Identity, EL = Identity> {
    pub(crate) path: String,
    pub(crate) public: bool,
    connect: CL,
    events: EL,
    pub(crate) routes: RouteTable<S>,
}

impl<S: 'static> NamespaceBuilder<S> {
    pub(crate) fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            public: false,
            connect: Identity::new(),
            events: Identity::new(),
            routes: RouteTable::default(),
        }
    }
}

impl<S: 'static, CL, EL> NamespaceBuilder<S, CL, EL> {
    /// Adds a layer to the connect stack: it sees every [`ConnectRequest`] to this namespace.
    pub fn on_connect<L>(self, layer: L) -> NamespaceBuilder<S, Stack<L, CL>, EL> {
        NamespaceBuilder {
            path: self.path,
            public: self.public,
            connect: Stack::new(layer, self.connect),
            events: self.events,
            routes: self.routes,
        }
    }

    /// Adds a layer to the event stack: it sees every [`EventRequest`] of this namespace.
    pub fn on_event<L>(self, layer: L) -> NamespaceBuilder<S, CL, Stack<L, EL>> {
        NamespaceBuilder {
            path: self.path,
            public: self.public,
            connect: self.connect,
            events: Stack::new(layer, self.events),
            routes: self.routes,
        }
    }

    /// Handles `event` with `handler`, an async function whose arguments are extractors.
    ///
    /// Registering the same event twice makes [`build`](crate::AppBuilder::build) fail.
    pub fn on<H: EventHandler<S, T>, T: 'static>(
        mut self,
        event: impl Into<String>,
        handler: H,
    ) -> Self {
        self.routes.insert(event.into(), BoxedHandler::new(handler));
        self
    }

    /// Handles every event that has no handler of its own (else those get `Unknown event`).
    pub fn fallback<H: EventHandler<S, T>, T: 'static>(mut self, handler: H) -> Self {
        self.routes.set_fallback(BoxedHandler::new(handler));
        self
    }
}

/// A namespace's own connect stack around [`Admit`], type-erased so that the app's stack can wrap
/// every namespace whatever its own layers are.
pub(crate) type NamespaceConnect = BoxCloneSyncService<ConnectRequest, ConnectRequest, BoxError>;

/// A namespace's own event stack around its [`Router`], type-erased like [`NamespaceConnect`].
pub(crate) type NamespaceEvents = BoxCloneSyncService<EventRequest, (), BoxError>;

/// One namespace's stacks, ready to be wrapped by the app's stacks and registered.
pub(crate) struct NamespaceStacks {
    pub(crate) path: String,
    /// Registered outside the app's stacks ([`AppBuilder::public_namespace`](crate::AppBuilder::public_namespace)).
    pub(crate) public: bool,
    pub(crate) connect: NamespaceConnect,
    pub(crate) events: NamespaceEvents,
}

/// A namespace whose stacks fit together, ready to be registered (stack types erased).
///
/// Implemented for every [`NamespaceBuilder`] whose connect layers wrap [`Admit`] into a
/// `Service<ConnectRequest>` and whose event layers wrap [`Router`] into a `Service<EventRequest>`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the layers of this namespace do not form valid iostack stacks",
    note = "connect layers must wrap `Admit` into a `Service<ConnectRequest, Response = ConnectRequest>`, \
            event layers must wrap `Router<S>` into a `Service<EventRequest, Response = ()>`; \
            both must be `Clone + Send + Sync + 'static` with errors convertible into `BoxError`"
)]
pub trait NamespaceSpec<S>: Send {
    /// The namespace's path.
    fn path(&self) -> &str;
    /// Adds a handler declared by hooks.
    fn add_route(&mut self, event: String, handler: BoxedHandler<S>);
    /// The first event registered twice, if any.
    fn conflict(&self) -> Option<&str>;
    /// Builds the namespace's own stacks.
    #[allow(private_interfaces)]
    fn into_stacks(self: Box<Self>, cx: Arc<AppContext<S>>) -> NamespaceStacks;
}

impl<S, CL, EL> NamespaceSpec<S> for NamespaceBuilder<S, CL, EL>
where
    S: Send + Sync + 'static,
    CL: Layer<Admit> + Send,
    CL::Service: Service<ConnectRequest, Response = ConnectRequest> + Clone + Send + Sync + 'static,
    <CL::Service as Service<ConnectRequest>>::Error: Into<BoxError>,
    <CL::Service as Service<ConnectRequest>>::Future: Send,
    EL: Layer<Router<S>> + Send,
    EL::Service: Service<EventRequest, Response = ()> + Clone + Send + Sync + 'static,
    <EL::Service as Service<EventRequest>>::Error: Into<BoxError>,
    <EL::Service as Service<EventRequest>>::Future: Send,
{
    fn path(&self) -> &str {
        &self.path
    }

    fn add_route(&mut self, event: String, handler: BoxedHandler<S>) {
        self.routes.insert(event, handler);
    }

    fn conflict(&self) -> Option<&str> {
        self.routes.conflict.as_deref()
    }

    #[allow(private_interfaces)]
    fn into_stacks(self: Box<Self>, cx: Arc<AppContext<S>>) -> NamespaceStacks {
        let this = *self;
        NamespaceStacks {
            path: this.path,
            public: this.public,
            connect: BoxCloneSyncService::new(this.connect.layer(Admit::new()).map_err(Into::into)),
            events: BoxCloneSyncService::new(
                this.events
                    .layer(Router::new(this.routes, cx))
                    .map_err(Into::into),
            ),
        }
    }
}

/// Adds the handlers that hooks declare to their namespaces.
///
/// A namespace that the builder never declared is an error naming it and the hooks: hooks never
/// open a namespace by themselves.
pub(crate) fn add_hook_routes<S>(
    specs: &mut [Box<dyn NamespaceSpec<S>>],
    hooks: &HookList<S>,
) -> Result<(), BuildError>
where
    S: Clone + Send + Sync + 'static,
{
    for hook in hooks.iter() {
        let mut routes = HookRoutes::default();
        hook.clone().routes(&mut routes);
        for ns in routes
            .namespaces
            .iter()
            .chain(routes.routes.iter().map(|r| &r.0))
        {
            if !specs.iter().any(|s| s.path() == ns) {
                return Err(BuildError::Config(format!(
                    "hooks `{}` use namespace `{ns}`, which is not declared: add `.namespace(\"{ns}\", |ns| ns)` to the builder",
                    hook.name()
                )));
            }
        }
        for (ns, event, handler) in routes.routes {
            if let Some(spec) = specs.iter_mut().find(|s| s.path() == ns) {
                spec.add_route(event, handler);
            }
        }
    }
    Ok(())
}

/// Refuses duplicate namespaces and duplicate event registrations.
pub(crate) fn check_specs<S>(specs: &[Box<dyn NamespaceSpec<S>>]) -> Result<(), BuildError> {
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|s| s.path() == spec.path()) {
            return Err(BuildError::Config(format!(
                "namespace `{}` is declared twice",
                spec.path()
            )));
        }
        if let Some(conflict) = spec.conflict() {
            return Err(BuildError::Config(format!(
                "in namespace `{}`: {conflict}",
                spec.path()
            )));
        }
        if !spec.path().starts_with('/') {
            return Err(BuildError::Config(format!(
                "namespace `{}` must start with `/`",
                spec.path()
            )));
        }
    }
    Ok(())
}
