//! The client events of [`Subscriptions`]: `subscribe` and `unsubscribe`.

use std::sync::Arc;

use iostack_core::{
    HookRoutes, Reply,
    extract::{SocketRef, TryData},
};

use crate::{PresenceError, Subscriptions, subscriptions::Spec};

pub(crate) fn add<S>(subs: &Arc<Subscriptions>, ns: &str, routes: &mut HookRoutes<S>)
where
    S: Send + Sync + 'static,
{
    routes.uses(ns);
    let s = subs.clone();
    routes.on(
        ns,
        "subscribe",
        move |socket: SocketRef, data: TryData<Spec>| {
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
        move |socket: SocketRef, data: TryData<Spec>| {
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
