//! A throwaway MongoDB-wire-compatible server (SecantusDB).

use std::{
    io,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::free_port;

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
