//! [`Worker`]: the task that owns one connected socket, its events in order, then its disconnect.

use std::sync::Arc;

use socketioxide::socket::Socket;
use tokio::sync::{mpsc, oneshot};
use tower::{Service, ServiceExt};

use super::{Job, dispatch::QueuedBytes};
use crate::{
    AnyAdapter, AppContext, BoxError, EventError, EventRequest, connect::DisconnectCallback,
    extract::SocketRef, hooks::HookList,
};

/// The task that owns one socket's session.
pub(super) struct Worker<S, E> {
    pub(super) events: E,
    pub(super) cx: Arc<AppContext<S>>,
    pub(super) hooks: HookList<S>,
    pub(super) ordered: bool,
    pub(super) on_disconnect: Vec<DisconnectCallback>,
    pub(super) queued: QueuedBytes,
}

impl<S, E> Worker<S, E>
where
    S: Send + Sync + 'static,
    E: Service<EventRequest, Response = ()> + Clone + Send + Sync + 'static,
    E::Error: Into<BoxError>,
    E::Future: Send,
{
    pub(super) async fn run(
        mut self,
        connected: oneshot::Receiver<Arc<Socket<AnyAdapter>>>,
        mut queue: mpsc::Receiver<Box<Job>>,
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
                Job::Event(req, size) => {
                    self.queued.release(size);
                    if self.ordered {
                        handle(&mut self.events, req).await;
                    } else {
                        let mut events = self.events.clone();
                        tokio::spawn(async move { handle(&mut events, req).await });
                    }
                }
                Job::Disconnect(socket, reason) => {
                    for callback in self.on_disconnect.drain(..) {
                        callback(&socket, reason);
                    }
                    for hook in self.hooks.iter() {
                        hook.on_disconnect(&socket, reason).await;
                    }
                    // Last: shutdown waits for the registry to empty, so the disconnect
                    // bookkeeping above (seats, logs) is done before the server returns.
                    self.cx
                        .io
                        .registry()
                        .remove(socket.ns(), &socket.id.to_string());
                    return;
                }
            }
        }
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
        Ok(svc) => svc.call(req).await.map_err(Into::into),
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
