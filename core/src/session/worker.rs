//! [`Worker`]: what runs one connected socket's jobs: its connection hooks, its events in order,
//! then its disconnect. Its [`Queue`](super::queue::Queue) decides when it runs.

use std::{panic::AssertUnwindSafe, sync::Arc};

use futures_util::{FutureExt, future::Either};
use socketioxide::socket::DisconnectReason;
use tower::{Service, ServiceExt};

use super::EventStack;
use crate::{
    AppContext, BoxError, EventError, EventRequest, connect::DisconnectCallback, event::Rejecter,
    extract::SocketRef, hooks::HookList,
};

/// One socket's event stack and lifecycle hooks.
pub(super) struct Worker<S, E> {
    pub(super) events: E,
    pub(super) cx: Arc<AppContext<S>>,
    pub(super) hooks: HookList<S>,
    pub(super) ordered: bool,
    pub(super) on_disconnect: Vec<DisconnectCallback>,
}

impl<S, E> Worker<S, E>
where
    S: Send + Sync + 'static,
    E: EventStack,
{
    /// Runs the connection hooks, before any event of the socket.
    pub(super) async fn connected(&mut self, socket: SocketRef) {
        for hook in self.hooks.iter() {
            survive(hook.name(), "connection", hook.on_connection(&socket)).await;
        }
    }

    /// Handles one event: to its end when ordered, else in its own task. Not an `async fn`, which
    /// would keep a second copy of the request in the socket's task for nothing.
    pub(super) fn event(&mut self, req: EventRequest) -> impl Future<Output = ()> + Send + '_ {
        if self.ordered {
            Either::Left(handle(&mut self.events, req))
        } else {
            let mut events = self.events.clone();
            tokio::spawn(async move { handle(&mut events, req).await });
            Either::Right(std::future::ready(()))
        }
    }

    /// Runs the disconnect callbacks and hooks, then forgets the socket.
    pub(super) async fn disconnected(mut self, socket: SocketRef, reason: DisconnectReason) {
        for callback in self.on_disconnect.drain(..) {
            let run = AssertUnwindSafe(|| callback(&socket, reason));
            if std::panic::catch_unwind(run).is_err() {
                tracing::error!(socket.id = %socket.id, "a connect layer's disconnect callback panicked");
            }
        }
        for hook in self.hooks.iter() {
            survive(
                hook.name(),
                "disconnect",
                hook.on_disconnect(&socket, reason),
            )
            .await;
        }
        // Last: shutdown waits for the registry to empty, so the disconnect bookkeeping above
        // (seats, logs) is done before the server returns.
        self.cx
            .io
            .registry()
            .remove(socket.ns(), &socket.id.to_string());
    }
}

/// Runs a lifecycle hook; a panic is logged and the session goes on (its events, its disconnect
/// bookkeeping).
async fn survive(hook: &str, point: &str, run: impl Future<Output = ()>) {
    if AssertUnwindSafe(run).catch_unwind().await.is_err() {
        tracing::error!(hook, "the {point} hook panicked");
    }
}

/// Runs one event through the stack; a refusal or failure reaches the client. A panic fails this
/// event only: the socket's worker goes on with the next one.
///
/// The request goes to the stack as soon as the stack is ready: across the handler's await, the
/// socket's task holds the stack's future and a [`Rejecter`], not the request as well.
async fn handle<E>(events: &mut E, req: EventRequest)
where
    E: Service<EventRequest, Response = ()>,
    E::Error: Into<BoxError>,
{
    let svc = match events.ready().await {
        Ok(svc) => svc,
        Err(e) => return report(&req.rejecter(), e.into()),
    };
    let rejecter = req.rejecter();
    // The stack's `call` runs the extractors before it returns its future: guard both.
    let result = match std::panic::catch_unwind(AssertUnwindSafe(|| svc.call(req))) {
        Ok(call) => match AssertUnwindSafe(call).catch_unwind().await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(panicked()),
        },
        Err(_) => Err(panicked()),
    };
    if let Err(e) = result {
        report(&rejecter, e);
    }
}

/// What a client reads when a handler panicked.
fn panicked() -> BoxError {
    EventError::handler("Internal error").into()
}

/// Logs why an event failed and tells the client.
fn report(rejecter: &Rejecter, e: BoxError) {
    let socket = &rejecter.socket().id;
    let event = rejecter.event();
    match e.downcast_ref::<EventError>() {
        Some(EventError::Handler(_)) => {
            tracing::warn!(socket.id = %socket, event, "handler failed: {e}");
        }
        _ => tracing::debug!(socket.id = %socket, event, "event refused: {e}"),
    }
    rejecter.reject(&e.to_string());
}
