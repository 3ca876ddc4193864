//! [`Router`]: the innermost service of every event stack, from event name to handler.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

// foldhash rather than SipHash: one lookup per event, in a table fixed at build time that client
// input cannot grow.
use hashbrown::HashMap;

use crate::{AppContext, BoxFuture, BoxedHandler, EventError, EventRequest};

/// The handlers of one namespace, by event name, and its optional fallback.
pub(crate) struct RouteTable<S> {
    handlers: HashMap<String, BoxedHandler<S>>,
    fallback: Option<BoxedHandler<S>>,
    /// The first registration that clashed with an earlier one; reported by `build()`.
    pub(crate) conflict: Option<String>,
}

impl<S> Default for RouteTable<S> {
    fn default() -> Self {
        Self {
            handlers: HashMap::new(),
            fallback: None,
            conflict: None,
        }
    }
}

impl<S> RouteTable<S> {
    pub(crate) fn insert(&mut self, event: String, handler: BoxedHandler<S>) {
        if self.handlers.contains_key(&event) {
            self.conflict
                .get_or_insert_with(|| format!("event `{event}` is registered twice"));
        }
        self.handlers.insert(event, handler);
    }

    pub(crate) fn set_fallback(&mut self, handler: BoxedHandler<S>) {
        if self.fallback.is_some() {
            self.conflict
                .get_or_insert_with(|| "the fallback handler is registered twice".into());
        }
        self.fallback = Some(handler);
    }
}

/// Routes an event to the handler registered for its name, else to the fallback, else refuses it
/// with [`EventError::UnknownEvent`].
pub struct Router<S> {
    routes: Arc<RouteTable<S>>,
    cx: Arc<AppContext<S>>,
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
            cx: self.cx.clone(),
        }
    }
}

impl<S> Router<S> {
    pub(crate) fn new(routes: RouteTable<S>, cx: Arc<AppContext<S>>) -> Self {
        Self {
            routes: Arc::new(routes),
            cx,
        }
    }
}

impl<S: 'static> tower_service::Service<EventRequest> for Router<S> {
    type Response = ();
    type Error = EventError;
    type Future = BoxFuture<'static, Result<(), EventError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: EventRequest) -> Self::Future {
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
