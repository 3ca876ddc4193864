//! Backing services for tests, started on free ports of 127.0.0.1 and stopped on drop.

mod mongo;
mod redis;

pub use mongo::MongoServer;
pub use redis::{RedisCluster, RedisServer};

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
