//! The client events of [`Subscriptions`]: `subscribe` and `unsubscribe`.

use std::sync::Arc;

use iostack_core::{
    HookRoutes, Reply,
    extract::{SocketRef, TryData},
    socketioxide::adapter::Adapter as IoAdapter,
};

use crate::{PresenceError, Subscriptions, subscriptions::Spec};

pub(crate) fn add<S, A>(subs: &Arc<Subscriptions<A>>, ns: &str, routes: &mut HookRoutes<S, A>)
where
    S: Send + Sync + 'static,
    A: IoAdapter,
{
    routes.uses(ns);
    let s = subs.clone();
    routes.on(
        ns,
        "subscribe",
        move |socket: SocketRef<A>, data: TryData<Spec>| {
            let s = s.clone();
            async move {
                let spec = data.0.map_err(|_| {
                    PresenceError::Subscription("expected {type, id?, filter?}".into())
                })?;
                s.subscribe(&socket, spec).map(Reply)
            }
        },
    );
    let s = subs.clone();
    routes.on(
        ns,
        "unsubscribe",
        move |socket: SocketRef<A>, data: TryData<Spec>| {
            let s = s.clone();
            async move {
                let spec = data.0.map_err(|_| {
                    PresenceError::Subscription(
                        "expected {type, id?, filter?} or {subscription}".into(),
                    )
                })?;
                Ok::<_, PresenceError>(Reply(s.unsubscribe(&socket, spec)))
            }
        },
    );
}
