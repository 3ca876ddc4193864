//! Fan-out of one content change to 10 000 subscribers, against a plain `io.emit` to the same
//! clients, in one run.
//!
//! `cargo bench -p iostack-presence --bench fanout` serves an app with [`Subscriptions`] on
//! 127.0.0.1 and re-runs itself as a child process holding the raw WebSocket clients (one process
//! could not hold both ends of 10 000 connections within a 20 000 file limit). Every client
//! subscribes to `article` under one of four role sets, each with its own hidden fields, so one
//! publish is one listing, four permission decisions (cached) and four broadcasts. Each round
//! lasts from the call until the child saw every client receive the event. `FANOUT_CLIENTS`
//! overrides the client count.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use iostack_core::App;
use iostack_middleware::auth::AuthLayer;
use iostack_presence::{Action, Permissions, RolePolicy, Subscriptions};
use iostack_testing::RawClient;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};

const ROLES: [&str; 4] = ["editor", "reader", "author", "guest"];
const ROUNDS: usize = 20;
const WAIT: Duration = Duration::from_secs(120);

fn clients() -> usize {
    std::env::var("FANOUT_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

#[tokio::main]
async fn main() {
    match std::env::var("FANOUT_SERVER") {
        Ok(addr) => receivers(addr.parse().expect("FANOUT_SERVER address")).await,
        Err(_) => server().await,
    }
}

/// The child: connects and subscribes every client, says `ready`, then `got N` each time every
/// client received one more event.
async fn receivers(addr: SocketAddr) {
    let n = clients();
    let mut connected = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(100) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&i| {
                tokio::spawn(async move {
                    let auth = format!(r#"{{"token":"u{i}:n{i}:{}"}}"#, ROLES[i % ROLES.len()]);
                    let mut client = RawClient::connect(addr, Some(&auth)).await;
                    client
                        .emit_with_ack(1, "subscribe", r#"{"type":"article"}"#)
                        .await;
                    client
                })
            })
            .collect();
        for task in tasks {
            connected.push(task.await.expect("client connects"));
        }
    }
    let received = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(tokio::sync::Notify::new());
    for mut client in connected {
        let (received, notify) = (received.clone(), notify.clone());
        tokio::spawn(async move {
            loop {
                client.next_event().await;
                received.fetch_add(1, Ordering::SeqCst);
                notify.notify_one();
            }
        });
    }
    println!("ready");
    let mut round = 0;
    loop {
        notify.notified().await;
        while received.load(Ordering::SeqCst) >= (round + 1) * n {
            round += 1;
            println!("got {round}");
        }
    }
}

async fn next_line(lines: &mut Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("receivers answer in time")
        .expect("receivers' output")
        .expect("receivers still running")
}

async fn server() {
    let n = clients();
    let policy = RolePolicy::new()
        .read("editor", "article")
        .hide("reader", "article", ["internalNotes"])
        .hide("author", "article", ["reviewers"])
        .hide("guest", "article", ["internalNotes", "reviewers"]);
    let subs = Subscriptions::new(Permissions::new(policy));
    let app = App::builder(())
        .on_connect(AuthLayer::new(support::Tokens))
        .hooks(subs.clone())
        .build()
        .await
        .expect("app builds");
    let io = app.io().clone();
    let listener = iostack_core::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_with_shutdown(listener, std::future::pending()));

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env("FANOUT_SERVER", addr.to_string())
        .env("FANOUT_CLIENTS", n.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("receivers start");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let start = Instant::now();
    assert_eq!(next_line(&mut lines).await, "ready");
    println!(
        "fanout: {n} subscribers connected in {:.1?}",
        start.elapsed()
    );

    let entry = json!({ "id": 7, "status": "published", "title": "Hello", "internalNotes": "x", "reviewers": ["a"] });
    let payload = json!({ "type": "article", "data": entry });
    let (mut emits, mut publishes, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    let mut round = 0;
    for i in 0..ROUNDS + 2 {
        let t = Instant::now();
        io.emit("update", &payload).await.unwrap();
        round += 1;
        assert_eq!(next_line(&mut lines).await, format!("got {round}"));
        let emit = t.elapsed();

        let t = Instant::now();
        let report = subs
            .publish("article", Action::Update, &entry)
            .await
            .unwrap();
        let call = t.elapsed();
        assert_eq!(
            (report.delivered, report.broadcasts),
            (ROLES.len().min(n), ROLES.len().min(n))
        );
        round += 1;
        assert_eq!(next_line(&mut lines).await, format!("got {round}"));
        if i >= 2 {
            emits.push(emit);
            publishes.push(t.elapsed());
            calls.push(call);
        }
    }
    let (emit, publish, call) = (median(emits), median(publishes), median(calls));
    println!("fanout: {n} receivers, median of {ROUNDS} rounds, every client received each event");
    println!("  io.emit (same payload to all)       {emit:>10.2?}");
    println!(
        "  Subscriptions::publish (4 groups)   {publish:>10.2?}   of which the call: {call:.2?}"
    );
    println!(
        "  ratio publish / emit                {:>10.2}",
        publish.as_secs_f64() / emit.as_secs_f64()
    );
    let _ = child.kill().await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
