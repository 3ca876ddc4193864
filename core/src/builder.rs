//! [`AppBuilder`]: construct the server, register namespaces, run the init hooks.

use std::{sync::Arc, time::Duration};

use socketioxide::{
    SocketIo, SocketIoBuilder,
    adapter::{Adapter as IoAdapter, LocalAdapter},
};
use socketioxide_core::adapter::DefinedAdapter;
use tower_layer::{Identity, Stack};

use crate::{
    Adapter, App, AppContext, BuildError, ConnectionRegistry, EventHandler, Hooks, InitContext, Io,
    NamespaceBuilder,
    adapter::{DefaultLocal, DynAdapter},
    hooks::HookList,
    namespace::NamespaceSpec,
    session::EventOptions,
    shutdown::ShutdownOptions,
};

type Configure = Box<dyn FnOnce(SocketIoBuilder) -> SocketIoBuilder + Send>;

/// Outgoing messages one socket may have waiting, unless configured otherwise.
const DEFAULT_BUFFER: usize = 1024;

impl<S> App<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Starts building an app around the user's state, on the in-process memory adapter.
    pub fn builder(state: S) -> AppBuilder<S> {
        AppBuilder {
            state,
            root: NamespaceBuilder::new("/"),
            namespaces: Vec::new(),
            hooks: Vec::new(),
            adapter: Arc::new(DefaultLocal),
            configure: Vec::new(),
            options: EventOptions::default(),
            shutdown: ShutdownOptions::default(),
            active_log: None,
            misuse: None,
        }
    }
}

/// Builds an [`App`]: adapter, root namespace stacks and handlers, other namespaces, hooks.
///
/// ```no_run
/// use iostack_core::{App, extract::{AckSender, Data}};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder(())
///     .on("echo", async |Data(v): Data<serde_json::Value>, ack: AckSender| {
///         let _ = ack.send(&v);
///     })
///     .build()
///     .await?;
/// let listener = iostack_core::bind("127.0.0.1:3000").await?;
/// app.serve(listener).await?;
/// # Ok(()) }
/// ```
pub struct AppBuilder<S, A: IoAdapter = LocalAdapter, CL = Identity, EL = Identity> {
    state: S,
    root: NamespaceBuilder<S, A, CL, EL>,
    namespaces: Vec<Box<dyn NamespaceSpec<S, A>>>,
    hooks: Vec<Arc<dyn Hooks<S, A>>>,
    adapter: Arc<dyn DynAdapter<A>>,
    configure: Vec<Configure>,
    options: EventOptions,
    shutdown: ShutdownOptions,
    active_log: Option<Duration>,
    misuse: Option<String>,
}

impl<S> AppBuilder<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Installs the adapter that connects this node to the others (Redis, MongoDB, memory).
    ///
    /// Call it first: what was registered before it is dropped, and `build()` reports it.
    pub fn adapter<AD: Adapter>(self, adapter: AD) -> AppBuilder<S, AD::Io> {
        let misuse =
            (!self.root.routes.is_empty() || !self.namespaces.is_empty() || !self.hooks.is_empty())
                .then(|| "call `adapter()` before adding handlers, namespaces or hooks".to_owned());
        AppBuilder {
            state: self.state,
            root: NamespaceBuilder::new("/"),
            namespaces: Vec::new(),
            hooks: Vec::new(),
            adapter: Arc::new(adapter),
            configure: self.configure,
            options: self.options,
            shutdown: self.shutdown,
            active_log: self.active_log,
            misuse: self.misuse.or(misuse),
        }
    }
}

impl<S, A, CL, EL> AppBuilder<S, A, CL, EL>
where
    S: Clone + Send + Sync + 'static,
    A: IoAdapter + DefinedAdapter,
{
    /// Adds a layer to the root namespace's connect stack (see [`NamespaceBuilder::on_connect`]).
    pub fn on_connect<L>(self, layer: L) -> AppBuilder<S, A, Stack<L, CL>, EL> {
        self.map_root(|root| root.on_connect(layer))
    }

    /// Adds a layer to the root namespace's event stack (see [`NamespaceBuilder::on_event`]).
    pub fn on_event<L>(self, layer: L) -> AppBuilder<S, A, CL, Stack<L, EL>> {
        self.map_root(|root| root.on_event(layer))
    }

    /// Handles `event` of the root namespace with `handler`.
    pub fn on<H: EventHandler<S, A, T>, T: 'static>(
        self,
        event: impl Into<String>,
        handler: H,
    ) -> Self {
        self.map_root(|root| root.on(event, handler))
    }

    /// Handles the root namespace's events that have no handler of their own.
    pub fn fallback<H: EventHandler<S, A, T>, T: 'static>(self, handler: H) -> Self {
        self.map_root(|root| root.fallback(handler))
    }

    /// Adds namespace `path` with its own stacks and handlers, configured by `configure`.
    pub fn namespace<F, CL2, EL2>(mut self, path: impl Into<String>, configure: F) -> Self
    where
        F: FnOnce(NamespaceBuilder<S, A>) -> NamespaceBuilder<S, A, CL2, EL2>,
        NamespaceBuilder<S, A, CL2, EL2>: NamespaceSpec<S, A> + 'static,
    {
        self.namespaces
            .push(Box::new(configure(NamespaceBuilder::new(path))));
        self
    }

    /// Registers hooks; init hooks run in registration order.
    pub fn hooks(mut self, hooks: impl Hooks<S, A>) -> Self {
        self.hooks.push(Arc::new(hooks));
        self
    }

    /// Tunes the socketioxide server (buffer sizes, timeouts, ping interval...).
    pub fn configure(
        mut self,
        f: impl FnOnce(SocketIoBuilder) -> SocketIoBuilder + Send + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// How many outgoing messages may wait for one slow client before further ones are refused
    /// (default 1024; socketioxide's own default is 128). Refusals are counted, see
    /// [`delivery`](crate::delivery).
    pub fn max_buffer_size(self, size: usize) -> Self {
        self.configure(move |b| b.max_buffer_size(size.max(1)))
    }

    /// Whether each socket's events are handled one at a time in arrival order (default `true`).
    ///
    /// With `false` every event runs as its own task, as in plain socketioxide: faster for slow,
    /// independent handlers, but replies to back-to-back events may come back reordered.
    pub fn ordered_events(mut self, ordered: bool) -> Self {
        self.options.ordered = ordered;
        self
    }

    /// How many events one socket may have waiting (default 256); past that, new events are
    /// refused with `Too many pending events` instead of growing memory without bound.
    pub fn event_queue_capacity(mut self, capacity: usize) -> Self {
        self.options.queue_capacity = capacity.max(1);
        self
    }

    /// How the server shuts down: the notice clients receive and the drain time.
    pub fn shutdown(mut self, options: ShutdownOptions) -> Self {
        self.shutdown = options;
        self
    }

    /// Logs `Active connections: N` at this interval while the app runs.
    pub fn log_active_connections(mut self, every: Duration) -> Self {
        self.active_log = Some(every);
        self
    }

    fn map_root<CL2, EL2>(
        self,
        f: impl FnOnce(NamespaceBuilder<S, A, CL, EL>) -> NamespaceBuilder<S, A, CL2, EL2>,
    ) -> AppBuilder<S, A, CL2, EL2> {
        AppBuilder {
            state: self.state,
            root: f(self.root),
            namespaces: self.namespaces,
            hooks: self.hooks,
            adapter: self.adapter,
            configure: self.configure,
            options: self.options,
            shutdown: self.shutdown,
            active_log: self.active_log,
            misuse: self.misuse,
        }
    }

    /// Constructs the server, registers every namespace, then runs the init hooks in order.
    ///
    /// Fails with the first error, naming the hook, namespace or adapter; nothing is left running.
    pub async fn build(self) -> Result<App<S, A>, BuildError>
    where
        NamespaceBuilder<S, A, CL, EL>: NamespaceSpec<S, A> + 'static,
    {
        if let Some(misuse) = self.misuse {
            return Err(BuildError::Config(misuse));
        }
        let adapter_name = self.adapter.name();
        let builder = self.configure.into_iter().fold(
            SocketIo::builder().max_buffer_size(DEFAULT_BUFFER),
            |builder, f| f(builder),
        );
        let builder =
            self.adapter
                .install(builder)
                .await
                .map_err(|source| BuildError::Adapter {
                    adapter: adapter_name,
                    source,
                })?;
        let (layer, io) = builder.build_layer();
        let cx = Arc::new(AppContext {
            state: self.state.clone(),
            io: Io::new(io.clone(), ConnectionRegistry::default(), adapter_name),
        });
        let hooks: HookList<S, A> = self.hooks.into();

        let mut specs: Vec<Box<dyn NamespaceSpec<S, A>>> = vec![Box::new(self.root)];
        specs.extend(self.namespaces);
        crate::namespace::add_hook_routes(&mut specs, &hooks);
        if let Err(e) = crate::namespace::check_specs(&specs) {
            io.close().await;
            return Err(e);
        }
        for spec in specs {
            let path = spec.path().to_owned();
            let init = spec.register(&io, cx.clone(), hooks.clone(), self.options);
            if let Err(e) = self.adapter.init_namespace(init).await {
                io.close().await;
                return Err(BuildError::Namespace {
                    path,
                    message: e.to_string(),
                });
            }
        }

        let mut init = InitContext {
            state: self.state,
            io: cx.io.clone(),
        };
        for hook in hooks.iter() {
            if let Err(error) = hook.init(&mut init).await {
                io.close().await;
                return Err(BuildError::Init {
                    hook: hook.name().to_owned(),
                    error,
                });
            }
        }
        let background = self
            .active_log
            .map(|every| cx.io.registry().spawn_active_log(every))
            .into_iter()
            .collect();
        Ok(App {
            layer,
            cx,
            hooks,
            adapter: self.adapter,
            shutdown: self.shutdown,
            background,
            routes: axum::Router::new(),
            http_layers: Vec::new(),
        })
    }
}
