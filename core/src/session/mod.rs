//! The life of one socket: admission through the connect stack, then its events in arrival order
//! through the event stack, then disconnect bookkeeping.
//!
//! socketioxide runs each handler as its own task, so replies to back-to-back events can come back
//! reordered. Every admitted socket therefore gets one worker task that owns a clone of the event
//! stack and takes the socket's events from a bounded queue, in order.
//!
//! This file admits sockets; `dispatch.rs` gates and queues their events; `worker.rs` runs them.

mod dispatch;
mod worker;

use std::{
    fmt::Display,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use socketioxide::{
    extract::TryData,
    handler::{ConnectHandler, FromConnectParts},
    socket::{DisconnectReason, Socket},
};
use socketioxide_core::Value;
use tokio::sync::{mpsc, oneshot};
use tower::{Service, ServiceExt};

use crate::{
    AnyAdapter, AppContext, BoxError, ConnectRequest, ConnectionInfo, EventRequest,
    connect::Admission,
    extract::SocketRef,
    gate::Gates,
    hooks::HookList,
    rooms::{role_room, user_room},
};
use dispatch::{Dispatch, QueuedBytes};
use worker::Worker;

/// How a namespace handles the events of one socket.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct EventOptions {
    /// Handle one event at a time, in arrival order (the default).
    pub ordered: bool,
    /// Events a socket may have waiting before new ones are refused with `Too many pending events`.
    pub queue_capacity: usize,
    /// Payload bytes a socket may have waiting before new events are refused the same way.
    pub queue_bytes: usize,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            ordered: true,
            queue_capacity: 256,
            queue_bytes: 1 << 20,
        }
    }
}

enum Job {
    /// An event and the bytes of its payload.
    Event(EventRequest, usize),
    Disconnect(SocketRef, DisconnectReason),
}

/// What the connect handler hands to the worker once the socket is connected.
type Connected = (oneshot::Sender<Arc<Socket<AnyAdapter>>>, ConnectionInfo);

/// Kept in the socket's extensions between admission and the moment the socket is connected.
struct Pending(Arc<Mutex<Option<Connected>>>);

impl Clone for Pending {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// socketioxide's connect handler for one namespace: runs the connect stack as its middleware, and
/// starts the socket's session once it is connected.
pub(crate) struct NamespaceHandler<S, C, E> {
    connect: C,
    events: E,
    cx: Arc<AppContext<S>>,
    hooks: HookList<S>,
    gates: Gates,
    options: EventOptions,
}

impl<S, C, E> NamespaceHandler<S, C, E> {
    pub(crate) fn new(
        connect: C,
        events: E,
        cx: &Arc<AppContext<S>>,
        hooks: &HookList<S>,
        gates: &Gates,
        options: EventOptions,
    ) -> Self {
        Self {
            connect,
            events,
            cx: cx.clone(),
            hooks: hooks.clone(),
            gates: gates.clone(),
            options,
        }
    }
}

impl<S, C: Clone, E: Clone> Clone for NamespaceHandler<S, C, E> {
    fn clone(&self) -> Self {
        Self {
            connect: self.connect.clone(),
            events: self.events.clone(),
            cx: self.cx.clone(),
            hooks: self.hooks.clone(),
            gates: self.gates.clone(),
            options: self.options,
        }
    }
}

/// Marker for socketioxide's handler traits.
pub(crate) struct Stacked;

type MiddlewareFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn Display + Send>>> + Send + 'a>>;

impl<S, C, E> ConnectHandler<AnyAdapter, Stacked> for NamespaceHandler<S, C, E>
where
    S: Send + Sync + 'static,
    C: Service<ConnectRequest, Response = ConnectRequest> + Clone + Send + Sync + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send,
    E: Service<EventRequest, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    fn call(&self, socket: Arc<Socket<AnyAdapter>>, _: Option<Value>) {
        let Some(Pending(pending)) = socket.extensions.remove::<Pending>() else {
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
        socket: Arc<Socket<AnyAdapter>>,
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

impl<S, C, E> NamespaceHandler<S, C, E>
where
    S: Send + Sync + 'static,
    E: Service<EventRequest, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    /// Runs before the client hears that it is connected: nothing it sends can be missed.
    fn admit(&self, admission: Admission) {
        let Admission {
            socket,
            identity,
            rooms,
            on_disconnect,
        } = admission;
        let info = ConnectionInfo {
            id: socket.id.to_string(),
            connection: 0,
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
            rooms.push(user_room(&identity.id));
            rooms.extend(identity.roles.iter().map(|r| role_room(r)));
            socket.extensions.insert(identity);
        }
        if !rooms.is_empty() {
            socket.join(rooms);
        }

        // Jobs are boxed: the channel allocates its first block (32 slots) per socket up front, and
        // pointers keep it ~3 KiB smaller per idle connection (`benches/README.md`).
        let (jobs, queue) = mpsc::channel(self.options.queue_capacity.max(1));
        let (connected_tx, connected_rx) = oneshot::channel();
        socket
            .extensions
            .insert(Pending(Arc::new(Mutex::new(Some((connected_tx, info))))));
        let queued = QueuedBytes::default();
        socket.on_fallback(Dispatch {
            jobs: jobs.clone(),
            gates: self.gates.clone(),
            queued: queued.clone(),
            queue_bytes: self.options.queue_bytes,
        });
        socket.on_disconnect(async move |socket: SocketRef, reason: DisconnectReason| {
            // Waits for room in the queue: the disconnect is handled after every pending event.
            let _ = jobs.send(Box::new(Job::Disconnect(socket, reason))).await;
        });

        let worker = Worker {
            events: self.events.clone(),
            cx: self.cx.clone(),
            hooks: self.hooks.clone(),
            ordered: self.options.ordered,
            on_disconnect,
            queued,
        };
        tokio::spawn(worker.run(connected_rx, queue));
    }
}
