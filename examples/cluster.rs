//! Several iostack nodes acting as one: `cargo run --example cluster -- --adapter redis --nodes 3`.
//!
//! Starts `--nodes` nodes (default 3) on consecutive ports from `--port` (default 4000; `0` gives every
//! node a free port of its own, printed as it starts) against one store
//! chosen by `--adapter` (`redis` at `REDIS_URL`, `mongo` at `MONGO_URL`, or `memory`, where nodes do
//! not share anything), connects one client to each node, sends one message from the first node and
//! prints what every client received. With `--serve`, keeps serving instead of exiting.

use std::time::Duration;

use iostack::{Adapter, App, memory::MemoryAdapter};
use iostack_testing::TestClient;

struct Args {
    adapter: String,
    nodes: u16,
    port: u16,
    serve: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        adapter: "redis".into(),
        nodes: 3,
        port: 4000,
        serve: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--adapter" => args.adapter = value()?,
            "--nodes" => args.nodes = value()?.parse().map_err(|e| format!("--nodes: {e}"))?,
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--serve" => args.serve = true,
            other => {
                return Err(format!(
                    "unknown flag {other} (use --adapter, --nodes, --port, --serve)"
                ));
            }
        }
    }
    Ok(args)
}

async fn run<AD: Adapter>(
    args: &Args,
    adapter: impl Fn() -> AD,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut ios = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..args.nodes {
        let app = App::builder(()).adapter(adapter()).build().await?;
        ios.push(app.io().clone());
        let port = if args.port == 0 { 0 } else { args.port + i };
        let listener = iostack::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        println!("node {i} listening on http://{addr}");
        addrs.push(addr);
        tokio::spawn(app.serve(listener));
    }
    if args.serve {
        iostack::shutdown_signal().await;
        return Ok(());
    }
    let mut clients = Vec::new();
    for addr in &addrs {
        clients.push(TestClient::connect(&format!("http://{addr}")).await?);
    }
    ios[0].emit("hello", &"from node 0").await?;
    for (i, client) in clients.iter_mut().enumerate() {
        match tokio::time::timeout(Duration::from_secs(10), client.wait_for("hello")).await {
            Ok(Ok(args)) => println!("client on node {i} received {args:?}"),
            _ => println!("client on node {i} received nothing"),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = args()?;
    match args.adapter.as_str() {
        "redis" => run(&args, iostack_redis::RedisAdapter::from_env).await,
        "mongo" => run(&args, iostack_mongo::MongoAdapter::from_env).await,
        "memory" => run(&args, MemoryAdapter::new).await,
        other => Err(format!("unknown adapter {other} (redis, mongo or memory)").into()),
    }
}
