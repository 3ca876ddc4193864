//! [`EventHandler`]: async functions whose arguments are extractors.

use std::{future::Future, marker::PhantomData, sync::Arc};

use socketioxide::adapter::Adapter as IoAdapter;

use crate::{AppContext, BoxFuture, EventError, EventRequest, FromEvent};

/// What a handler may return: nothing, or a `Result` whose error the client reads.
pub trait IntoEventResult {
    /// Converts the handler's output.
    fn into_event_result(self) -> Result<(), EventError>;
}

impl IntoEventResult for () {
    fn into_event_result(self) -> Result<(), EventError> {
        Ok(())
    }
}

/// A handler's error is sent to the client as its `Display`; a `BroadcastError` of full socket
/// buffers is counted (see [`delivery`](crate::delivery)) and reads `Not delivered to N recipients`.
impl<E: std::fmt::Display + 'static> IntoEventResult for Result<(), E> {
    fn into_event_result(self) -> Result<(), EventError> {
        self.map_err(|e| {
            let any: &dyn std::any::Any = &e;
            match any
                .downcast_ref::<socketioxide::BroadcastError>()
                .map(crate::delivery::record)
            {
                Some(dropped) if dropped > 0 => {
                    EventError::Handler(format!("Not delivered to {dropped} recipients"))
                }
                _ => EventError::handler(e),
            }
        })
    }
}

/// An async function usable as an event handler: every argument implements [`FromEvent`] and the
/// output implements [`IntoEventResult`]. Implemented for functions and closures of up to 8 arguments.
pub trait EventHandler<S, A: IoAdapter, T>: Clone + Send + Sync + 'static {
    /// Extracts the arguments and runs the handler.
    fn call(
        &self,
        req: EventRequest<A>,
        cx: &AppContext<S, A>,
    ) -> BoxFuture<'static, Result<(), EventError>>;
}

macro_rules! impl_event_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<S, A, F, Fut, R, $($ty,)*> EventHandler<S, A, ($($ty,)*)> for F
        where
            A: IoAdapter,
            F: FnOnce($($ty,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoEventResult,
            $($ty: FromEvent<S, A> + Send,)*
        {
            fn call(&self, mut req: EventRequest<A>, cx: &AppContext<S, A>) -> BoxFuture<'static, Result<(), EventError>> {
                $(
                    let $ty = match $ty::from_event(&mut req, cx) {
                        Ok(v) => v,
                        Err(e) => return Box::pin(std::future::ready(Err(e))),
                    };
                )*
                let fut = (self.clone())($($ty,)*);
                Box::pin(async move { fut.await.into_event_result() })
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
pub(crate) trait ErasedHandler<S, A: IoAdapter>: Send + Sync + 'static {
    fn call(
        &self,
        req: EventRequest<A>,
        cx: &AppContext<S, A>,
    ) -> BoxFuture<'static, Result<(), EventError>>;
}

struct Erased<H, T>(H, PhantomData<fn() -> T>);

impl<S, A, H, T> ErasedHandler<S, A> for Erased<H, T>
where
    A: IoAdapter,
    H: EventHandler<S, A, T>,
    T: 'static,
{
    fn call(
        &self,
        req: EventRequest<A>,
        cx: &AppContext<S, A>,
    ) -> BoxFuture<'static, Result<(), EventError>> {
        self.0.call(req, cx)
    }
}

/// A shared, type-erased handler.
pub struct BoxedHandler<S, A: IoAdapter>(pub(crate) Arc<dyn ErasedHandler<S, A>>);

impl<S, A: IoAdapter> Clone for BoxedHandler<S, A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S: 'static, A: IoAdapter> BoxedHandler<S, A> {
    /// Erases a handler's type.
    pub fn new<H: EventHandler<S, A, T>, T: 'static>(handler: H) -> Self {
        Self(Arc::new(Erased(handler, PhantomData)))
    }
}
