//! The cluster example, run as users run it: several nodes, one message reaching every node's client,
//! over one Redis and over a Redis Cluster.

use std::process::Command;

use iostack_testing::services::{RedisCluster, RedisServer};

fn example(name: &str) -> std::path::PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_example_delivers_to_every_node_over_redis() {
    let redis = RedisServer::start().await.unwrap();
    run_cluster_example("REDIS_URL", redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_example_delivers_to_every_node_over_a_redis_cluster() {
    let redis = RedisCluster::start().await.unwrap();
    run_cluster_example("REDIS_CLUSTER_NODES", redis.urls().join(","));
}

/// Runs `examples/cluster` with three nodes over Redis, `var` telling it where Redis is.
fn run_cluster_example(var: &str, value: String) {
    let bin = example("cluster");
    assert!(
        bin.exists(),
        "{} is missing: cargo builds examples with the tests",
        bin.display()
    );
    let output = Command::new(bin)
        .args(["--adapter", "redis", "--nodes", "3", "--port", "0"])
        .env_remove("REDIS_URL")
        .env_remove("REDIS_CLUSTER_NODES")
        .env(var, value)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for node in 0..3 {
        assert!(
            stdout.contains(&format!(
                "client on node {node} received [String(\"from node 0\")]"
            )),
            "{stdout}"
        );
    }
}
