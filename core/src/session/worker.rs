//! [`Worker`]: what runs one connected socket's jobs: its connection hooks, its events in order,
//! then its disconnect. Its [`Queue`](super::queue::Queue) decides when it runs.

use std::{panic::AssertUnwindSafe, sync::Arc};

use futures_util::FutureExt;
use socketioxide::socket::DisconnectReason;
use tower::{Service, ServiceExt};

use super::EventStack;
use crate::{
    AppContext, BoxError, EventError, EventRequest, connect::DisconnectCallback,
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

    /// Handles one event: to its end when ordered, else in its own task.
    pub(super) async fn event(&mut self, req: EventRequest) {
        if self.ordered {
            handle(&mut self.events, req).await;
        } else {
            let mut events = self.events.clone();
            tokio::spawn(async move { handle(&mut events, req).await });
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

/// Runs one event through the stack; a refusal or failure reaches the client.
async fn handle<E>(events: &mut E, req: EventRequest)
where
    E: Service<EventRequest, Response = ()>,
    E::Error: Into<BoxError>,
{
    let rejecter = req.rejecter();
    let ready = events.ready().await.map_err(Into::into);
    let result = match ready {
        // A panicking handler fails its event only: the socket's worker goes on with the next one.
        Ok(svc) => match AssertUnwindSafe(async move { svc.call(req).await })
            .catch_unwind()
            .await
        {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(EventError::handler("Internal error").into()),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = result {
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
}
