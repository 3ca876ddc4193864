//! [`EventHandler`]: async functions whose arguments are extractors.

use std::{future::Future, marker::PhantomData, sync::Arc};

use serde::Serialize;

use crate::{AppContext, BoxFuture, EventError, EventRequest, FromEvent};

/// What a handler may return: nothing, a [`Reply`], or a `Result` whose value answers the
/// client's acknowledgement and whose error the client reads.
///
/// - `()`: nothing is sent back (a handler may still answer through an [`AckSender`] argument).
/// - [`Reply(value)`](Reply): `value` answers the ack, if the client asked for one.
/// - `Result<T, E>`: `Ok(value)` answers the ack with `value` (`null` for `()`); `Err(e)` becomes
///   an error ack `{"error": {"message": e}}`, or an `error` event `{"message": e}` when the client
///   asked for no ack, and is logged.
///
/// A handler that takes an [`AckSender`] argument answers the ack itself: its return value is not
/// sent.
///
/// [`AckSender`]: crate::extract::AckSender
pub trait IntoEventResult {
    /// Converts the handler's output: `Ok(Some(value))` answers the client's ack with `value`.
    fn into_event_result(self) -> Result<Option<serde_json::Value>, EventError>;
}

impl IntoEventResult for () {
    fn into_event_result(self) -> Result<Option<serde_json::Value>, EventError> {
        Ok(None)
    }
}

/// A value that answers the client's acknowledgement, as axum's `Json` answers a request.
///
/// ```
/// use iostack_core::{App, Reply, extract::Data};
///
/// # async fn run() -> Result<(), iostack_core::BuildError> {
/// let app = App::builder(())
///     .on("add", async |Data((a, b)): Data<(i64, i64)>| Reply(a + b))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reply<T>(pub T);

impl<T: Serialize> Serialize for Reply<T> {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: Serialize> IntoEventResult for Reply<T> {
    fn into_event_result(self) -> Result<Option<serde_json::Value>, EventError> {
        reply_value(&self.0).map(Some)
    }
}

/// A handler's error is sent to the client as its `Display`; a `BroadcastError` of full socket
/// buffers becomes [`EventError::NotDelivered`], counted in the app's
/// [`Deliveries`](crate::delivery::Deliveries) and read `Not delivered to N recipients`.
impl<T: Serialize, E: std::fmt::Display + 'static> IntoEventResult for Result<T, E> {
    fn into_event_result(self) -> Result<Option<serde_json::Value>, EventError> {
        match self {
            Ok(value) => reply_value(&value).map(Some),
            Err(e) => {
                let any: &dyn std::any::Any = &e;
                Err(
                    match any
                        .downcast_ref::<socketioxide::BroadcastError>()
                        .map(crate::delivery::dropped_in)
                    {
                        Some(dropped) if dropped > 0 => EventError::NotDelivered(dropped),
                        _ => EventError::handler(e),
                    },
                )
            }
        }
    }
}

fn reply_value<T: Serialize>(value: &T) -> Result<serde_json::Value, EventError> {
    serde_json::to_value(value).map_err(|e| {
        tracing::error!("handler reply cannot be serialized: {e}");
        EventError::handler("Internal error")
    })
}

/// An async function usable as an event handler: every argument implements [`FromEvent`] and the
/// output implements [`IntoEventResult`]. Implemented for functions and closures of up to 8 arguments.
#[diagnostic::on_unimplemented(
    message = "this is not an iostack event handler",
    label = "not an event handler",
    note = "an event handler is an async function or closure of at most 8 arguments that implement `FromEvent`, \
            returning a type that implements `IntoEventResult`"
)]
pub trait EventHandler<S, T>: Clone + Send + Sync + 'static {
    /// Extracts the arguments and runs the handler.
    fn call(
        &self,
        req: EventRequest,
        cx: &AppContext<S>,
    ) -> BoxFuture<'static, Result<(), EventError>>;
}

macro_rules! impl_event_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<S, F, Fut, R, $($ty,)*> EventHandler<S, ($($ty,)*)> for F
        where
            F: FnOnce($($ty,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoEventResult,
            $($ty: FromEvent<S> + Send,)*
        {
            fn call(&self, mut req: EventRequest, cx: &AppContext<S>) -> BoxFuture<'static, Result<(), EventError>> {
                $(
                    let $ty = match $ty::from_event(&mut req, cx) {
                        Ok(v) => v,
                        Err(e) => return Box::pin(std::future::ready(Err(e))),
                    };
                )*
                let fut = (self.clone())($($ty,)*);
                Box::pin(async move {
                    let reply = fut.await.into_event_result()?;
                    if let Some(reply) = reply
                        && req.wants_ack()
                    {
                        let _ = req.ack_sender().send(&reply);
                    }
                    Ok(())
                })
            }
        }
    };
}

impl_event_handler!();
impl_event_handler!(T1);
impl_event_handler!(T1, T2);
impl_event_handler!(T1, T2, T3);
impl_event_handler!(T1, T2, T3, T4);
impl_event_handler!(T1, T2, T3, T4, T5);
impl_event_handler!(T1, T2, T3, T4, T5, T6);
impl_event_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_event_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// A handler with its argument types erased, as routes store it.
pub(crate) trait ErasedHandler<S>: Send + Sync + 'static {
    fn call(
        &self,
        req: EventRequest,
        cx: &AppContext<S>,
    ) -> BoxFuture<'static, Result<(), EventError>>;
}

struct Erased<H, T>(H, PhantomData<fn() -> T>);

impl<S, H, T> ErasedHandler<S> for Erased<H, T>
where
    H: EventHandler<S, T>,
    T: 'static,
{
    fn call(
        &self,
        req: EventRequest,
        cx: &AppContext<S>,
    ) -> BoxFuture<'static, Result<(), EventError>> {
        self.0.call(req, cx)
    }
}

/// A shared, type-erased handler.
pub struct BoxedHandler<S>(pub(crate) Arc<dyn ErasedHandler<S>>);

impl<S> Clone for BoxedHandler<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S: 'static> BoxedHandler<S> {
    /// Erases a handler's type.
    pub fn new<H: EventHandler<S, T>, T: 'static>(handler: H) -> Self {
        Self(Arc::new(Erased(handler, PhantomData)))
    }
}
