//! The in-process adapter of [iostack](https://docs.rs/iostack): rooms, broadcasts and socket
//! look-ups stay inside this process. It is the default, needs no service, and suits a single node.
//!
//! ```no_run
//! use iostack_core::App;
//! use iostack_memory::MemoryAdapter;
//!
//! # async fn run() -> Result<(), iostack_core::BuildError> {
//! let app = App::builder(()).adapter(MemoryAdapter::new()).build().await?;
//! assert_eq!(app.io().adapter_name(), "memory");
//! # Ok(()) }
//! ```

use iostack_core::{Adapter, AdapterError, BoxFuture, Health};
use socketioxide::adapter::LocalAdapter;

/// Keeps the cluster state in this process: one node, nothing to connect to.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryAdapter;

impl MemoryAdapter {
    /// The memory adapter.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl Adapter for MemoryAdapter {
    type Io = LocalAdapter;

    fn name(&self) -> &'static str {
        "memory"
    }

    async fn install(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    fn init_namespace(_: ()) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    async fn health(&self) -> Health {
        Health::Up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn is_named_memory_and_always_up() {
        assert_eq!(Adapter::name(&MemoryAdapter::new()), "memory");
        assert_eq!(MemoryAdapter::new().health().await, Health::Up);
    }
}
