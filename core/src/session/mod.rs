//! The life of one socket: admission through the connect stack, then its events in arrival order
//! through the event stack, then disconnect bookkeeping.
//!
//! socketioxide runs each handler as its own task, so replies to back-to-back events can come back
//! reordered. Every admitted socket therefore gets one worker that owns a clone of the event stack
//! and takes the socket's events from a bounded queue, in order.
//!
//! This file admits sockets; `dispatch.rs` gates their events; `queue.rs` queues them and runs the
//! worker while there are some; `worker.rs` handles them.

mod dispatch;
mod queue;
mod worker;

use std::{fmt::Display, future::Future, pin::Pin, sync::Arc, time::SystemTime};

use socketioxide::{
    extract::TryData,
    handler::{ConnectHandler, FromConnectParts},
    socket::{DisconnectReason, Socket},
};
use socketioxide_core::Value;
use tower::{Service, ServiceExt};

use crate::{
    AnyAdapter, AppContext, BoxError, ConnectRequest, ConnectionInfo, EventRequest,
    connect::Admission,
    extract::SocketRef,
    gate::Gates,
    hooks::HookList,
    rooms::{role_room, user_room},
    serve::ConnOf,
};
use dispatch::Dispatch;
use queue::Queue;
use worker::Worker;

/// The event stack a socket's session runs (the app's layers around the namespace's): the bounds
/// every session type needs, in one name.
pub(crate) trait EventStack:
    Service<EventRequest, Response = (), Error: Into<BoxError>, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> EventStack for T where
    T: Service<EventRequest, Response = (), Error: Into<BoxError>, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

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

/// Kept in the socket's extensions between admission and the moment the socket is connected.
struct Pending<S, E> {
    queue: Arc<Queue<S, E>>,
    info: ConnectionInfo,
}

impl<S, E> Clone for Pending<S, E> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            info: self.info.clone(),
        }
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
    E: EventStack,
{
    fn call(&self, socket: Arc<Socket<AnyAdapter>>, _: Option<Value>) {
        let Some(Pending { queue, info }) = socket.extensions.remove::<Pending<S, E>>() else {
            return;
        };
        self.cx.io.registry().insert(info);
        queue.start(SocketRef::from(socket));
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
    E: EventStack,
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
        if let Some(sessions) = self.cx.io.deliveries().sessions()
            && socket.transport_type() == socketioxide::TransportType::Websocket
            && let Some(conn) = socket.req_parts().extensions.get::<ConnOf>()
        {
            sessions.opened(socket.id, conn);
        }

        let worker = Worker {
            events: self.events.clone(),
            cx: self.cx.clone(),
            hooks: self.hooks.clone(),
            ordered: self.options.ordered,
            on_disconnect,
        };
        let queue = Queue::new(worker, self.options);
        socket.on_fallback(Dispatch {
            queue: queue.clone(),
            gates: self.gates.clone(),
        });
        let on_disconnect = queue.clone();
        socket.on_disconnect(async move |socket: SocketRef, reason: DisconnectReason| {
            // Handled after every event queued before it.
            on_disconnect.push_disconnect(socket, reason);
        });
        socket.extensions.insert(Pending { queue, info });
    }
}
