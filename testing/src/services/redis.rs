//! Throwaway `redis-server` processes: one server, or a cluster of three.

use std::{
    io,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::free_port;

/// How long a cluster may take to agree on its slots.
const CLUSTER_WAIT: Duration = Duration::from_secs(20);

/// A `redis-server` of the test's own, on a free port, with persistence off; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    args: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(free_port()?).await
    }

    /// Starts `redis-server` on `port` (e.g. to restart a stopped one in place).
    pub async fn start_on(port: u16) -> io::Result<Self> {
        Self::start_with(port, Vec::new()).await
    }

    async fn start_with(port: u16, args: Vec<String>) -> io::Result<Self> {
        let mut server = Self {
            child: spawn_redis(port, &args)?,
            port,
            args,
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
        self.child = spawn_redis(self.port, &self.args)?;
        self.wait_ready().await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_redis(port: u16, args: &[String]) -> io::Result<Child> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
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

/// A Redis Cluster of the test's own: three `redis-server` masters on free ports, every slot
/// assigned, no replicas, persistence off, node files in a temporary folder; killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, assigns the slots with `redis-cli --cluster create`
    /// and waits until every node reports `cluster_state:ok`.
    pub async fn start() -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "iostack-redis-cluster-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = free_port()?;
            let args = vec![
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-port".into(),
                free_port()?.to_string(),
                "--cluster-config-file".into(),
                cluster
                    .dir
                    .join(format!("nodes-{port}.conf"))
                    .display()
                    .to_string(),
            ];
            cluster
                .nodes
                .push(RedisServer::start_with(port, args).await?);
        }
        cluster.assign_slots().await?;
        cluster.wait_until_ok().await?;
        Ok(cluster)
    }

    async fn assign_slots(&self) -> io::Result<()> {
        let create = tokio::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output();
        let out = tokio::time::timeout(CLUSTER_WAIT, create)
            .await
            .map_err(|_| io::Error::other("redis-cli --cluster create did not finish"))?
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run redis-cli ({e}): install redis-tools"),
                )
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            )))
        }
    }

    async fn wait_until_ok(&self) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + CLUSTER_WAIT;
        for node in &self.nodes {
            while !cluster_ok(node.port).await {
                if tokio::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "redis cluster node on port {} never reported cluster_state:ok",
                        node.port
                    )));
                }
                // The nodes gossip on their own schedule: pace the polls.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Kills every node (to simulate an outage); [`restart`](Self::restart) brings them back.
    pub fn kill(&mut self) {
        self.nodes.iter_mut().for_each(RedisServer::kill);
    }

    /// Starts every node again on its port and node file (the cluster keeps its slots, not its
    /// data) and waits until every node reports `cluster_state:ok`.
    pub async fn restart(&mut self) -> io::Result<()> {
        for node in &mut self.nodes {
            node.restart().await?;
        }
        self.wait_until_ok().await
    }

    /// The port of every node.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the node on `port` answers `CLUSTER INFO` with `cluster_state:ok`.
async fn cluster_ok(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"CLUSTER INFO\r\n").await.is_err() {
        return false;
    }
    let mut reply = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut reply)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&reply[..n]).contains("cluster_state:ok"),
        _ => false,
    }
}
