//! [`AppBuilder`]: construct the server, register namespaces, run the init hooks.
//!
//! The server's settings (timeouts, limits, queues, shutdown) are in `settings.rs`.

mod settings;

use std::{sync::Arc, time::Duration};

use socketioxide::{SocketIo, SocketIoBuilder};
use tower::Service;
use tower_layer::{Identity, Layer, Stack};

use crate::{
    Adapter, AnyAdapter, App, AppContext, BoxError, BuildError, ConnectRequest, ConnectionRegistry,
    EventGate, EventHandler, EventRequest, Hooks, InitContext, Io, NamespaceBuilder, ServerLimits,
    adapter::{DefaultLocal, DynAdapter},
    delivery::{Deliveries, Overflow},
    gate::Gates,
    hooks::HookList,
    namespace::{NamespaceConnect, NamespaceEvents, NamespaceSpec},
    session::{EventOptions, NamespaceHandler},
    shutdown::ShutdownOptions,
};

type Configure = Box<dyn FnOnce(SocketIoBuilder) -> SocketIoBuilder + Send>;

/// Outgoing messages one socket may have waiting, unless configured otherwise.
const DEFAULT_BUFFER: usize = 1024;

/// Bytes read at once from each websocket, unless configured otherwise (engineioxide's 4096
/// costs 3 KiB more per idle connection; larger messages are read in several passes).
const DEFAULT_WS_READ_BUFFER: usize = 1024;

/// How long a handshake may wait for its namespace connect, unless configured otherwise.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest client message, on every transport, unless configured otherwise (Engine.IO's 100 kB;
/// websockets would otherwise take up to 64 MiB).
const DEFAULT_MAX_PAYLOAD: usize = 100_000;

impl<S> App<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Starts building an app around the user's state, on the in-process memory adapter.
    pub fn builder(state: S) -> AppBuilder<S> {
        AppBuilder {
            state,
            connect: Identity::new(),
            events: Identity::new(),
            root: NamespaceBuilder::new("/"),
            namespaces: Vec::new(),
            hooks: Vec::new(),
            adapter: Arc::new(DefaultLocal),
            configure: Vec::new(),
            options: EventOptions::default(),
            shutdown: ShutdownOptions::default(),
            active_log: None,
            limits: ServerLimits::default(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            gates: Vec::new(),
            overflow: Overflow::default(),
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
pub struct AppBuilder<S, CL = Identity, EL = Identity> {
    state: S,
    connect: CL,
    events: EL,
    root: NamespaceBuilder<S>,
    namespaces: Vec<Box<dyn NamespaceSpec<S>>>,
    hooks: Vec<Arc<dyn Hooks<S>>>,
    adapter: Arc<dyn DynAdapter>,
    configure: Vec<Configure>,
    options: EventOptions,
    shutdown: ShutdownOptions,
    active_log: Option<Duration>,
    limits: ServerLimits,
    max_payload: usize,
    gates: Vec<Arc<dyn EventGate>>,
    overflow: Overflow,
}

impl<S, CL, EL> AppBuilder<S, CL, EL>
where
    S: Clone + Send + Sync + 'static,
{
    /// Installs the adapter that connects this node to the others (Redis, MongoDB, memory),
    /// replacing the in-process default. Handlers, namespaces and hooks do not depend on it, so it
    /// may come anywhere in the chain, and switching backends is this one line.
    ///
    /// ```
    /// use iostack_core::{App, extract::{AckSender, Data}};
    ///
    /// # async fn run(adapter: impl iostack_core::Adapter) -> Result<(), iostack_core::BuildError> {
    /// let app = App::builder(())
    ///     .on("echo", async |Data(v): Data<serde_json::Value>, ack: AckSender| {
    ///         let _ = ack.send(&v);
    ///     })
    ///     .adapter(adapter) // e.g. `RedisAdapter::from_env()?`: the handler above is unchanged
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn adapter(mut self, adapter: impl Adapter) -> Self {
        self.adapter = Arc::new(adapter);
        self
    }

    /// Adds a layer to the app's connect stack: it sees every [`ConnectRequest`](crate::ConnectRequest)
    /// of every namespace, declared before or after it, except [public](Self::public_namespace) ones.
    ///
    /// A namespace's own connect layers run inside the app's: app stack → namespace stack → admission.
    pub fn on_connect<L>(self, layer: L) -> AppBuilder<S, Stack<L, CL>, EL> {
        self.map_stacks(|connect, events| (Stack::new(layer, connect), events))
    }

    /// Adds a layer to the app's event stack: it sees every [`EventRequest`](crate::EventRequest)
    /// of every namespace except [public](Self::public_namespace) ones, around the namespace's own
    /// event layers.
    pub fn on_event<L>(self, layer: L) -> AppBuilder<S, CL, Stack<L, EL>> {
        self.map_stacks(|connect, events| (connect, Stack::new(layer, events)))
    }

    /// Handles `event` of the root namespace with `handler`.
    pub fn on<H: EventHandler<S, T>, T: 'static>(
        mut self,
        event: impl Into<String>,
        handler: H,
    ) -> Self {
        self.root = self.root.on(event, handler);
        self
    }

    /// Handles the root namespace's events that have no handler of their own.
    pub fn fallback<H: EventHandler<S, T>, T: 'static>(mut self, handler: H) -> Self {
        self.root = self.root.fallback(handler);
        self
    }

    /// Adds namespace `path` with its own layers and handlers, configured by `configure`.
    ///
    /// The namespace runs inside the app's stacks ([`on_connect`](Self::on_connect),
    /// [`on_event`](Self::on_event)): an app that authenticates authenticates here too.
    ///
    /// ```
    /// use iostack_core::{App, ConnectRequest, extract::{AckSender, Data}};
    /// use tower::ServiceBuilder;
    ///
    /// # async fn run() -> Result<(), iostack_core::BuildError> {
    /// # let auth = tower::layer::util::Identity::new();
    /// let app = App::builder(())
    ///     .on_connect(auth) // every namespace, `/chat` included
    ///     .namespace("/chat", |ns| {
    ///         ns.on("echo", async |Data(v): Data<serde_json::Value>, ack: AckSender| {
    ///             let _ = ack.send(&v);
    ///         })
    ///     })
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn namespace<F, CL2, EL2>(mut self, path: impl Into<String>, configure: F) -> Self
    where
        F: FnOnce(NamespaceBuilder<S>) -> NamespaceBuilder<S, CL2, EL2>,
        NamespaceBuilder<S, CL2, EL2>: NamespaceSpec<S> + 'static,
    {
        self.namespaces
            .push(Box::new(configure(NamespaceBuilder::new(path))));
        self
    }

    /// Adds namespace `path` **outside** the app's stacks: no app-wide auth, allowlist or limits
    /// apply, only the layers `configure` adds. For deliberately open namespaces (a status feed).
    pub fn public_namespace<F, CL2, EL2>(mut self, path: impl Into<String>, configure: F) -> Self
    where
        F: FnOnce(NamespaceBuilder<S>) -> NamespaceBuilder<S, CL2, EL2>,
        NamespaceBuilder<S, CL2, EL2>: NamespaceSpec<S> + 'static,
    {
        let mut ns = NamespaceBuilder::new(path);
        ns.public = true;
        self.namespaces.push(Box::new(configure(ns)));
        self
    }

    /// Registers hooks; init hooks run in registration order.
    pub fn hooks(mut self, hooks: impl Hooks<S>) -> Self {
        self.hooks.push(Arc::new(hooks));
        self
    }

    fn map_stacks<CL2, EL2>(self, f: impl FnOnce(CL, EL) -> (CL2, EL2)) -> AppBuilder<S, CL2, EL2> {
        let (connect, events) = f(self.connect, self.events);
        AppBuilder {
            state: self.state,
            connect,
            events,
            root: self.root,
            namespaces: self.namespaces,
            hooks: self.hooks,
            adapter: self.adapter,
            configure: self.configure,
            options: self.options,
            shutdown: self.shutdown,
            active_log: self.active_log,
            limits: self.limits,
            max_payload: self.max_payload,
            gates: self.gates,
            overflow: self.overflow,
        }
    }

    /// Constructs the server, registers every namespace, then runs the init hooks in order.
    ///
    /// Fails with the first error, naming the hook, namespace or adapter; nothing is left running.
    pub async fn build(self) -> Result<App<S>, BuildError>
    where
        CL: Layer<NamespaceConnect> + Send,
        CL::Service:
            Service<ConnectRequest, Response = ConnectRequest> + Clone + Send + Sync + 'static,
        <CL::Service as Service<ConnectRequest>>::Error: Into<BoxError>,
        <CL::Service as Service<ConnectRequest>>::Future: Send,
        EL: Layer<NamespaceEvents> + Send,
        EL::Service: Service<EventRequest, Response = ()> + Clone + Send + Sync + 'static,
        <EL::Service as Service<EventRequest>>::Error: Into<BoxError>,
        <EL::Service as Service<EventRequest>>::Future: Send,
    {
        let adapter_name = self.adapter.name();
        let payload = self.max_payload;
        let builder = self.configure.into_iter().fold(
            SocketIo::builder()
                .max_buffer_size(DEFAULT_BUFFER)
                .ws_read_buffer_size(DEFAULT_WS_READ_BUFFER)
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .max_payload(payload as u64)
                .ws_max_message_size(payload)
                .ws_max_frame_size(payload),
            |builder, f| f(builder),
        );
        let deliveries = Deliveries::new(self.overflow);
        let adapter_state = self
            .adapter
            .install(deliveries.clone())
            .await
            .map_err(|source| BuildError::Adapter {
                adapter: adapter_name,
                source,
            })?;
        let (layer, io) = builder
            .with_adapter::<AnyAdapter>(adapter_state)
            .build_layer();
        let cx = Arc::new(AppContext {
            state: self.state.clone(),
            io: Io::new(
                io.clone(),
                ConnectionRegistry::default(),
                adapter_name,
                deliveries,
            ),
        });
        let hooks: HookList<S> = self.hooks.into();

        let mut specs: Vec<Box<dyn NamespaceSpec<S>>> = vec![Box::new(self.root)];
        specs.extend(self.namespaces);
        let checked = crate::namespace::check_specs(&specs)
            .and_then(|()| crate::namespace::add_hook_routes(&mut specs, &hooks))
            .and_then(|()| crate::namespace::check_specs(&specs));
        if let Err(e) = checked {
            io.close().await;
            return Err(e);
        }
        let gates = Gates::new(self.gates);
        for spec in specs {
            let stacks = spec.into_stacks(cx.clone());
            let path = stacks.path.clone();
            let init = if stacks.public {
                io.ns(
                    path.clone(),
                    NamespaceHandler::new(
                        stacks.connect,
                        stacks.events,
                        &cx,
                        &hooks,
                        &gates,
                        self.options,
                    ),
                )
            } else {
                let connect = self.connect.layer(stacks.connect);
                let events = self.events.layer(stacks.events);
                io.ns(
                    path.clone(),
                    NamespaceHandler::new(connect, events, &cx, &hooks, &gates, self.options),
                )
            };
            if let Err(e) = init.wait().await {
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
            limits: self.limits,
        })
    }
}
