//! Test support for [iostack](https://docs.rs/iostack) apps: serve an app on a free port of
//! 127.0.0.1 and drive it with real Socket.IO clients, with bounded waits everywhere.
//!
//! ```no_run
//! use iostack_core::{App, extract::{AckSender, Data}};
//! use iostack_testing::{TestClient, TestServer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::builder(())
//!     .on("echo", async |Data(v): Data<serde_json::Value>, ack: AckSender| { let _ = ack.send(&v); })
//!     .build()
//!     .await?;
//! let server = TestServer::start(app).await?;
//! let client = TestClient::connect(&server.url()).await?;
//! assert_eq!(client.emit_with_ack("echo", serde_json::json!("hi")).await?, serde_json::json!(["hi"]));
//! # Ok(()) }
//! ```

mod client;
mod raw;
mod server;
pub mod services;

pub use client::{Received, TestClient, TestClientBuilder, TestError, Transport};
pub use raw::RawClient;
pub use server::TestServer;

/// How long any wait of this crate lasts before it fails: 5 seconds.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
