//! Backing services for tests, started on free ports of 127.0.0.1 and stopped on drop.

use std::{
    io,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `redis-server` of the test's own, on a free port, with persistence off; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(free_port()?).await
    }

    /// Starts `redis-server` on `port` (e.g. to restart a stopped one in place).
    pub async fn start_on(port: u16) -> io::Result<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot start redis-server ({e}): install it (apt-get install redis-server) or run scripts/test.sh"),
                )
            })?;
        let mut server = Self { child, port };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + crate::WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "redis-server on port {} exited: {status}",
                    self.port
                )));
            }
            if ping(self.port).await {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "redis-server on port {} did not answer PING",
                    self.port
                )));
            }
            // Polling a process that has no way to notify us: pace the attempts.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut buf = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut buf))
            .await
            .is_ok()
        && &buf == b"+PONG\r\n"
}

/// A port that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
