//! [`Router`]: the innermost service of every event stack, from event name to handler.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
};

use socketioxide::adapter::Adapter as IoAdapter;

use crate::{AnyAdapter, AppContext, BoxFuture, BoxedHandler, EventError, EventRequest};

/// The handlers of one namespace, by event name, and its optional fallback.
pub(crate) struct RouteTable<S, A: IoAdapter> {
    handlers: HashMap<String, BoxedHandler<S, A>>,
    fallback: Option<BoxedHandler<S, A>>,
    /// The first registration that clashed with an earlier one; reported by `build()`.
    pub(crate) conflict: Option<String>,
}

impl<S, A: IoAdapter> Default for RouteTable<S, A> {
    fn default() -> Self {
        Self {
            handlers: HashMap::new(),
            fallback: None,
            conflict: None,
        }
    }
}

impl<S, A: IoAdapter> RouteTable<S, A> {
    pub(crate) fn insert(&mut self, event: String, handler: BoxedHandler<S, A>) {
        if self.handlers.contains_key(&event) {
            self.conflict
                .get_or_insert_with(|| format!("event `{event}` is registered twice"));
        }
        self.handlers.insert(event, handler);
    }

    pub(crate) fn set_fallback(&mut self, handler: BoxedHandler<S, A>) {
        if self.fallback.is_some() {
            self.conflict
                .get_or_insert_with(|| "the fallback handler is registered twice".into());
        }
        self.fallback = Some(handler);
    }
}

/// Routes an event to the handler registered for its name, else to the fallback, else refuses it
/// with [`EventError::UnknownEvent`].
pub struct Router<S, A: IoAdapter = AnyAdapter> {
    routes: Arc<RouteTable<S, A>>,
    cx: Arc<AppContext<S, A>>,
}

impl<S, A: IoAdapter> Clone for Router<S, A> {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
            cx: self.cx.clone(),
        }
    }
}

impl<S, A: IoAdapter> Router<S, A> {
    pub(crate) fn new(routes: RouteTable<S, A>, cx: Arc<AppContext<S, A>>) -> Self {
        Self {
            routes: Arc::new(routes),
            cx,
        }
    }
}

impl<S: 'static, A: IoAdapter> tower_service::Service<EventRequest<A>> for Router<S, A> {
    type Response = ();
    type Error = EventError;
    type Future = BoxFuture<'static, Result<(), EventError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: EventRequest<A>) -> Self::Future {
        let handler = self
            .routes
            .handlers
            .get(req.event())
            .or(self.routes.fallback.as_ref());
        match handler {
            Some(handler) => handler.0.call(req, &self.cx),
            None => Box::pin(std::future::ready(Err(EventError::UnknownEvent(req.event)))),
        }
    }
}
