//! A mixed cluster on one throwaway Redis: a real Node.js socket.io 4.8 server with
//! `@socket.io/redis-adapter` (tests/node-cluster/server.mjs) and an iostack node with
//! [`RedisNodeAdapter`], plus the `@socket.io/redis-emitter` script. Everything is bounded (starting
//! `node` by [`NODE_START`], each command by [`WAIT`]); a missing `node`, `redis-server` or
//! `npm ci` fails the test with the fix to apply.

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use iostack_core::{
    App, Io,
    extract::{AckSender, Data, SocketRef},
};
use iostack_redis_node::{NodeCluster, RedisNodeAdapter, RedisNodeConfig, ServerSideEvent};
use iostack_testing::{TestClient, TestServer, WAIT, services::RedisServer};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::{mpsc, oneshot},
};

/// How long starting a `node` process may take on a loaded machine.
const NODE_START: Duration = Duration::from_secs(30);

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node-cluster")
}

fn check_node_setup() {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/@socket.io/redis-adapter").exists(),
        "the Node packages are missing: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
}

fn node_command(script: &str, redis_url: &str) -> Command {
    check_node_setup();
    let mut cmd = Command::new("node");
    cmd.arg(node_dir().join(script))
        .current_dir(node_dir())
        .env("REDIS_URL", redis_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// A Node.js socket.io server of the test's own, driven over its stdin; killed on drop.
pub struct NodeServer {
    child: Child,
    stdin: ChildStdin,
    pub port: u16,
    replies: Replies,
    events: mpsc::UnboundedReceiver<Value>,
    next_id: u64,
}

/// How both sides of a [`Mixed`] cluster are configured.
#[derive(Debug, Clone)]
pub struct Options {
    pub key: String,
    pub specific_response_channel: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            key: "socket.io".into(),
            specific_response_channel: false,
        }
    }
}

impl NodeServer {
    pub async fn start(redis_url: &str) -> Self {
        Self::start_with(redis_url, &Options::default()).await
    }

    pub async fn start_with(redis_url: &str, options: &Options) -> Self {
        let specific = if options.specific_response_channel {
            "1"
        } else {
            "0"
        };
        let mut child = node_command("server.mjs", redis_url)
            .env("SOCKET_IO_REDIS_KEY", &options.key)
            .env("SPECIFIC_RESPONSE_CHANNEL", specific)
            .spawn()
            .expect("cannot start `node`: install Node.js 18+ (apt-get install nodejs npm)");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(NODE_START, lines.next_line())
            .await
            .expect("the Node server did not print its port in time")
            .unwrap()
            .expect("the Node server exited before listening");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .expect("first line is {\"port\": N}") as u16;
        let replies: Replies = Arc::default();
        let (tx, events) = mpsc::unbounded_channel();
        let routes = replies.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(id) = msg.get("id").and_then(Value::as_u64) {
                    let reply = match msg.get("error") {
                        Some(e) => Err(e.to_string()),
                        None => Ok(msg["ok"].clone()),
                    };
                    if let Some(tx) = routes.lock().unwrap().remove(&id) {
                        let _ = tx.send(reply);
                    }
                } else if msg.get("event").is_some() {
                    let _ = tx.send(msg);
                } else if let Some(log) = msg.get("log") {
                    eprintln!("node server: {log}");
                }
            }
        });
        Self {
            child,
            stdin,
            port,
            replies,
            events,
            next_id: 0,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Runs one command of server.mjs and returns its result.
    pub async fn try_call(&mut self, mut cmd: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        cmd["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        self.replies.lock().unwrap().insert(id, tx);
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .expect("the Node server is gone");
        tokio::time::timeout(WAIT, rx)
            .await
            .unwrap_or_else(|_| panic!("no answer from the Node server to {cmd}"))
            .expect("the Node server is gone")
    }

    pub async fn call(&mut self, cmd: Value) -> Value {
        let what = cmd.to_string();
        self.try_call(cmd)
            .await
            .unwrap_or_else(|e| panic!("Node server failed {what}: {e}"))
    }

    /// The next thing the cluster told the Node server unasked (a server-side event).
    pub async fn next_event(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("no event on the Node server in time")
            .expect("the Node server is gone")
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Publishes `commands` with @socket.io/redis-emitter (tests/node-cluster/emitter.mjs).
pub async fn emitter(redis_url: &str, commands: Value) {
    let out = tokio::time::timeout(
        NODE_START,
        node_command("emitter.mjs", redis_url)
            .arg(commands.to_string())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the emitter script did not finish in time")
    .expect("cannot start `node`: install Node.js 18+");
    assert!(out.status.success(), "emitter.mjs failed: {out:?}");
}

/// The iostack node: `join` (ack: socket id) and `whoami` like the Node server.
pub struct IostackNode {
    pub server: TestServer,
    pub io: Io,
    pub cluster: NodeCluster,
    pub server_side: mpsc::UnboundedReceiver<(String, Vec<Value>)>,
}

pub async fn iostack_node(redis_url: &str, options: &Options) -> IostackNode {
    let config = RedisNodeConfig::new(redis_url)
        .key(options.key.clone())
        .publish_on_specific_response_channel(options.specific_response_channel)
        .request_timeout(Duration::from_secs(10));
    let adapter = RedisNodeAdapter::new(config);
    let cluster = adapter.cluster();
    cluster.socket_data(|ns, id| json!({ "ns": ns, "id": id }));
    let (tx, server_side) = mpsc::unbounded_channel();
    cluster.on_server_side_emit("/", move |ev: ServerSideEvent| {
        if let Some(ack) = ev.ack {
            ack.send(json!({ "from": "iostack", "got": ev.args.clone() }));
        }
        let _ = tx.send((ev.event, ev.args));
    });
    let app = App::builder(())
        .adapter(adapter)
        .on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&socket.id.to_string());
            },
        )
        .on("whoami", async |socket: SocketRef, ack: AckSender| {
            let _ = ack.send(&socket.id.to_string());
        })
        .namespace("/chat", |ns| ns)
        .build()
        .await
        .expect("iostack node builds");
    let io = app.io().clone();
    IostackNode {
        server: TestServer::start(app).await.unwrap(),
        io,
        cluster,
        server_side,
    }
}

/// Redis, one Node server and one iostack node, each seeing the other (two subscribers on the
/// request channel of `/`).
pub struct Mixed {
    pub redis: RedisServer,
    pub node: NodeServer,
    pub rs: IostackNode,
}

impl Mixed {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let redis = RedisServer::start()
            .await
            .expect("redis-server must be installed (apt-get install redis-server)");
        let node = NodeServer::start_with(&redis.url(), &options).await;
        let rs = iostack_node(&redis.url(), &options).await;
        let mut mixed = Self { redis, node, rs };
        mixed.wait_for_servers(2).await;
        mixed
    }

    /// Waits until both sides count `n` servers. Subscriptions have no completion event on the
    /// Node side: poll the count, bounded by WAIT.
    pub async fn wait_for_servers(&mut self, n: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let rs = self.rs.cluster.server_count("/").await.unwrap_or(0) as u64;
            let node = self.node.call(json!({"op": "serverCount"})).await;
            if rs == n && node == json!(n) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "cluster never reached {n} servers (iostack sees {rs}, Node sees {node})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// An official socket.io-client (run by the Node server process) connected to `url`;
    /// returns its id.
    pub async fn js_client(&mut self, url: &str, nsp: &str) -> String {
        let id = self
            .node
            .call(json!({"op": "clientConnect", "url": url, "nsp": nsp}))
            .await;
        id.as_str().expect("client id").to_owned()
    }

    /// The arguments of the next `event` the official client `id` receives (buffers as
    /// `{"$bytes": base64}`).
    pub async fn js_wait(&mut self, id: &str, event: &str) -> Value {
        self.node
            .call(json!({"op": "clientWait", "client": id, "event": event}))
            .await
    }

    /// A client of the iostack node and its socket id.
    pub async fn rs_client(&self) -> (TestClient, String) {
        client(&self.rs.server.url()).await
    }

    /// A client of the Node server and its socket id.
    pub async fn node_client(&self) -> (TestClient, String) {
        client(&self.node.url()).await
    }
}

/// A client of the server at `url` and its socket id.
pub async fn client_of(url: &str) -> (TestClient, String) {
    client(url).await
}

async fn client(url: &str) -> (TestClient, String) {
    let client = TestClient::connect(url).await.expect("client connects");
    let id = client.emit_args_with_ack("whoami", vec![]).await.unwrap()[0]
        .as_str()
        .expect("whoami answers the socket id")
        .to_owned();
    (client, id)
}

/// Joins `room` through the server the client is connected to.
pub async fn join(client: &TestClient, room: &str) {
    client
        .emit_with_ack("join", room)
        .await
        .expect("join answered");
}

/// Asserts `event` did not arrive before the `marker` event that was sent after it.
pub async fn assert_none_before(client: &mut TestClient, event: &str, marker: &str) {
    let seen = client.events_until(marker).await.expect("marker arrives");
    assert!(
        seen.iter().all(|r| r.event != event),
        "`{event}` must not arrive: {seen:?}"
    );
}
