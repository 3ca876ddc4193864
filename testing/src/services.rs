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
        let mut server = Self {
            child: spawn_redis(port)?,
            port,
        };
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

    /// Kills the server (to simulate an outage); [`restart`](Self::restart) brings it back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (empty: persistence is off).
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.child = spawn_redis(self.port)?;
        self.wait_ready().await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_redis(port: u16) -> io::Result<Child> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start redis-server ({e}): install it (apt-get install redis-server) or run scripts/test.sh"),
            )
        })
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

/// A MongoDB-wire-compatible server of the test's own (SecantusDB, replica set `rs0`, change streams,
/// 1 s TTL sweep) on a free port, with its data in a temporary folder; killed on drop.
///
/// Runs `scripts/mongo_server.py` with the Python of `.venv` (or `IOSTACK_PYTHON`); install it
/// with `bash scripts/setup-mongo.sh`.
#[derive(Debug)]
pub struct MongoServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl MongoServer {
    /// Starts the server on a free port and waits until it accepts connections.
    pub async fn start() -> io::Result<Self> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("iostack-mongo-{}-{port}", std::process::id()));
        let child = spawn_mongo(port, &dir).await?;
        Ok(Self { child, port, dir })
    }

    /// Kills the server, keeping its data (to simulate an outage).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.child = spawn_mongo(self.port, &self.dir).await?;
        Ok(())
    }

    /// `mongodb://127.0.0.1:<port>/?replicaSet=rs0&directConnection=true`.
    pub fn url(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?replicaSet=rs0&directConnection=true",
            self.port
        )
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `scripts/mongo_server.py` and waits for its `ready` line.
async fn spawn_mongo(port: u16, dir: &std::path::Path) -> io::Result<Child> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("IOSTACK_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let mut child = Command::new(&python)
        .arg(root.join("scripts/mongo_server.py"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start the MongoDB test server with {} ({e}): run `bash scripts/setup-mongo.sh`", python.display()),
            )
        })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    match tokio::time::timeout(Duration::from_secs(30), ready).await {
        Ok(Ok(Ok(line))) if line.starts_with("ready") => Ok(child),
        _ => {
            let _ = child.kill();
            Err(io::Error::other(format!(
                "the MongoDB test server on port {port} did not start: run `bash scripts/setup-mongo.sh`"
            )))
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
