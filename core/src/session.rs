//! The life of one socket: admission through the connect stack, then its events in arrival order
//! through the event stack, then disconnect bookkeeping.
//!
//! socketioxide runs each handler as its own task, so replies to back-to-back events can come back
//! reordered. Every admitted socket therefore gets one worker task that owns a clone of the event
//! stack and takes the socket's events from a bounded queue, in order.

use std::{
    fmt::Display,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use socketioxide::{
    adapter::Adapter as IoAdapter,
    extract::{Event, SocketRef, TryData},
    handler::{ConnectHandler, FromConnectParts, FromMessageParts, MessageHandler},
    socket::{DisconnectReason, Socket},
};
use socketioxide_core::Value;
use tokio::sync::{mpsc, oneshot};
use tower::{Service, ServiceExt};

use crate::{
    AppContext, BoxError, ConnectRequest, ConnectionInfo, EventError, EventRequest,
    connect::{Admission, DisconnectCallback},
    hooks::HookList,
    rooms::{role_room, user_room},
};

/// How a namespace handles the events of one socket.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct EventOptions {
    /// Handle one event at a time, in arrival order (the default).
    pub ordered: bool,
    /// Events a socket may have waiting before new ones are refused with `Too many pending events`.
    pub queue_capacity: usize,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            ordered: true,
            queue_capacity: 256,
        }
    }
}

enum Job<A: IoAdapter> {
    Event(EventRequest<A>),
    Disconnect(SocketRef<A>, DisconnectReason),
}

/// What the connect handler hands to the worker once the socket is connected.
type Connected<A> = (oneshot::Sender<Arc<Socket<A>>>, ConnectionInfo);

/// Kept in the socket's extensions between admission and the moment the socket is connected.
struct Pending<A: IoAdapter>(Arc<Mutex<Option<Connected<A>>>>);

impl<A: IoAdapter> Clone for Pending<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// socketioxide's connect handler for one namespace: runs the connect stack as its middleware, and
/// starts the socket's session once it is connected.
pub(crate) struct NamespaceHandler<S, A: IoAdapter, C, E> {
    pub(crate) connect: C,
    pub(crate) events: E,
    pub(crate) cx: Arc<AppContext<S, A>>,
    pub(crate) hooks: HookList<S, A>,
    pub(crate) options: EventOptions,
}

impl<S, A: IoAdapter, C, E> NamespaceHandler<S, A, C, E> {
    pub(crate) fn new(
        connect: C,
        events: E,
        cx: &Arc<AppContext<S, A>>,
        hooks: &HookList<S, A>,
        options: EventOptions,
    ) -> Self {
        Self {
            connect,
            events,
            cx: cx.clone(),
            hooks: hooks.clone(),
            options,
        }
    }
}

impl<S, A: IoAdapter, C: Clone, E: Clone> Clone for NamespaceHandler<S, A, C, E> {
    fn clone(&self) -> Self {
        Self {
            connect: self.connect.clone(),
            events: self.events.clone(),
            cx: self.cx.clone(),
            hooks: self.hooks.clone(),
            options: self.options,
        }
    }
}

/// Marker for socketioxide's handler traits.
pub(crate) struct Stacked;

type MiddlewareFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn Display + Send>>> + Send + 'a>>;

impl<S, A, C, E> ConnectHandler<A, Stacked> for NamespaceHandler<S, A, C, E>
where
    S: Send + Sync + 'static,
    A: IoAdapter,
    C: Service<ConnectRequest<A>, Response = ConnectRequest<A>> + Clone + Send + Sync + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send,
    E: Service<EventRequest<A>, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    fn call(&self, socket: Arc<Socket<A>>, _: Option<Value>) {
        let Some(Pending(pending)) = socket.extensions.get::<Pending<A>>() else {
            return;
        };
        let taken = pending.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((connected, info)) = taken {
            self.cx.io.registry().insert(info);
            let _ = connected.send(socket);
        }
    }

    fn call_middleware<'a>(
        &'a self,
        socket: Arc<Socket<A>>,
        auth: &'a Option<Value>,
    ) -> MiddlewareFuture<'a> {
        Box::pin(async move {
            let auth = match TryData::<serde_json::Value>::from_connect_parts(&socket, auth) {
                Ok(TryData(Ok(auth))) => auth,
                _ => serde_json::json!({}),
            };
            let req = ConnectRequest::new(SocketRef::from(socket.clone()), auth);
            match self.connect.clone().oneshot(req).await {
                Ok(req) => {
                    self.admit(req.into_admission());
                    Ok(())
                }
                Err(e) => {
                    let message = e.into().to_string();
                    tracing::debug!(socket.id = %socket.id, ns = socket.ns(), %message, "connection refused");
                    Err(Box::new(message) as Box<dyn Display + Send>)
                }
            }
        })
    }
}

impl<S, A, C, E> NamespaceHandler<S, A, C, E>
where
    S: Send + Sync + 'static,
    A: IoAdapter,
    E: Service<EventRequest<A>, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    /// Runs before the client hears that it is connected: nothing it sends can be missed.
    fn admit(&self, admission: Admission<A>) {
        let Admission {
            socket,
            identity,
            rooms,
            on_disconnect,
        } = admission;
        let info = ConnectionInfo {
            id: socket.id.to_string(),
            ns: socket.ns().to_owned(),
            peer: socket
                .req_parts()
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
            user_agent: socket
                .req_parts()
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            identity: identity.clone(),
            connected_at: SystemTime::now(),
        };
        let mut rooms = rooms;
        if let Some(identity) = identity {
            // Core rooms: the cluster-wide helpers find users and roles through them, in every
            // namespace, whatever layers the namespace has.
            rooms.push(user_room(&identity.id).into());
            rooms.extend(identity.roles.iter().map(|r| role_room(r).into()));
            socket.extensions.insert(identity);
        }
        if !rooms.is_empty() {
            socket.join(rooms);
        }

        // Jobs are boxed: the channel allocates its first block (32 slots) per socket up front, and
        // pointers keep it ~3 KiB smaller per idle connection (`cargo bench --bench memory`).
        let (jobs, queue) = mpsc::channel(self.options.queue_capacity.max(1));
        let (connected_tx, connected_rx) = oneshot::channel();
        socket
            .extensions
            .insert(Pending(Arc::new(Mutex::new(Some((connected_tx, info))))));
        socket.on_fallback(Dispatch { jobs: jobs.clone() });
        socket.on_disconnect(
            async move |socket: SocketRef<A>, reason: DisconnectReason| {
                // Waits for room in the queue: the disconnect is handled after every pending event.
                let _ = jobs.send(Box::new(Job::Disconnect(socket, reason))).await;
            },
        );

        let worker = Worker {
            events: self.events.clone(),
            cx: self.cx.clone(),
            hooks: self.hooks.clone(),
            ordered: self.options.ordered,
            on_disconnect,
        };
        tokio::spawn(worker.run(connected_rx, queue));
    }
}

/// Puts each incoming event of one socket on its queue, in arrival order.
struct Dispatch<A: IoAdapter> {
    jobs: mpsc::Sender<Box<Job<A>>>,
}

impl<A: IoAdapter> MessageHandler<A, Stacked> for Dispatch<A> {
    fn call(&self, socket: Arc<Socket<A>>, mut data: Value, ack_id: Option<i64>) {
        let event = match Event::from_message_parts(&socket, &mut data, &ack_id) {
            Ok(Event(event)) => event,
            Err(e) => {
                tracing::debug!(socket.id = %socket.id, "unreadable event name: {e}");
                return;
            }
        };
        let req = EventRequest {
            socket,
            event,
            data,
            ack_id,
        };
        if let Err(mpsc::error::TrySendError::Full(job)) =
            self.jobs.try_send(Box::new(Job::Event(req)))
            && let Job::Event(req) = *job
        {
            tracing::warn!(socket.id = %req.socket.id, event = %req.event, "event queue full, event refused");
            req.reject(&EventError::Overloaded.to_string());
        }
    }
}

/// The task that owns one socket's session.
struct Worker<S, A: IoAdapter, E> {
    events: E,
    cx: Arc<AppContext<S, A>>,
    hooks: HookList<S, A>,
    ordered: bool,
    on_disconnect: Vec<DisconnectCallback<A>>,
}

impl<S, A, E> Worker<S, A, E>
where
    S: Send + Sync + 'static,
    A: IoAdapter,
    E: Service<EventRequest<A>, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    async fn run(
        mut self,
        connected: oneshot::Receiver<Arc<Socket<A>>>,
        mut queue: mpsc::Receiver<Box<Job<A>>>,
    ) {
        // Dropped without a send when the socket never got connected: nothing to do then.
        let Ok(socket) = connected.await else { return };
        let socket = SocketRef::from(socket);
        for hook in self.hooks.iter() {
            hook.on_connection(&socket).await;
        }
        drop(socket);

        while let Some(job) = queue.recv().await {
            match *job {
                Job::Event(req) if self.ordered => handle(&mut self.events, req).await,
                Job::Event(req) => {
                    let mut events = self.events.clone();
                    tokio::spawn(async move { handle(&mut events, req).await });
                }
                Job::Disconnect(socket, reason) => {
                    self.cx
                        .io
                        .registry()
                        .remove(socket.ns(), &socket.id.to_string());
                    for callback in self.on_disconnect.drain(..) {
                        callback(&socket, reason);
                    }
                    for hook in self.hooks.iter() {
                        hook.on_disconnect(&socket, reason).await;
                    }
                    return;
                }
            }
        }
    }
}

/// Runs one event through the stack; a refusal or failure reaches the client.
async fn handle<A, E>(events: &mut E, req: EventRequest<A>)
where
    A: IoAdapter,
    E: Service<EventRequest<A>, Response = ()>,
    E::Error: Into<BoxError>,
{
    let rejecter = req.rejecter();
    let ready = events.ready().await.map_err(Into::into);
    let result = match ready {
        Ok(svc) => svc.call(req).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        let socket = &rejecter.socket().id;
        let event = rejecter.event();
        if matches!(e.downcast_ref::<EventError>(), Some(EventError::Handler(_))) {
            tracing::warn!(socket.id = %socket, event, "handler failed: {e}");
        } else {
            tracing::debug!(socket.id = %socket, event, "event refused: {e}");
        }
        rejecter.reject(&e.to_string());
    }
}
