//! Arbitrary packets from a connected client: event names, payloads of every JSON shape, broken
//! packets. Every event with an ack id is answered (its value or an error), nothing panics, and
//! the socket and a healthy client keep being served.
//!
//! `PROPTEST_CASES` sets the case count (256 by default); `scripts/fuzz.sh` runs more.

use std::time::Duration;

use iostack::{
    App, Reply,
    extract::{AckSender, Data},
};
use iostack_testing::{RawClient, TestServer};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Join {
    channel_id: String,
    password: Option<String>,
}

async fn server() -> TestServer {
    let app = App::builder(())
        .on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        })
        .on("join-channel", async |Data(join): Data<Join>| {
            Reply(join.channel_id)
        })
        .on("pair", async |Data((n, s)): Data<(i64, String)>| {
            Reply(format!("{n}{s}"))
        })
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("(channelId|password|[a-z]{1,6})", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("echo".to_owned()),
        Just("join-channel".to_owned()),
        Just("pair".to_owned()),
        // socketioxide closes the connection on event names that need JSON escapes (control
        // characters, quotes, backslashes): a limit of the base, kept out of this property.
        "[^\\p{Cc}\"\\\\]{0,30}",
    ]
}

/// Waits for the ack `id`, answering pings; other packets are skipped.
async fn ack(client: &mut RawClient, id: u64) -> String {
    let prefix = format!("43{id}[");
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let packet = client.next_packet().await;
            if packet.starts_with(&prefix) {
                return packet;
            }
        }
    })
    .await
    .expect("every event with an ack id is answered")
}

#[test]
fn arbitrary_events_are_answered_and_never_take_the_server_down() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(server());
    let client = rt.block_on(RawClient::connect(server.addr(), None));
    // The runner takes a `Fn`: the client and the ack ids live in a cell.
    let state = std::cell::RefCell::new((client, 0u64));
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &(event_name(), prop::collection::vec(json(), 0..3)),
            |(event, args)| {
                let (client, id) = &mut *state.borrow_mut();
                *id += 1;
                let id = *id;
                let mut packet = vec![Value::String(event)];
                packet.extend(args);
                let text = format!("42{id}{}", Value::Array(packet));
                rt.block_on(async {
                    client.send(text).await;
                    let answer = ack(client, id).await;
                    let body: Value = serde_json::from_str(&answer[format!("43{id}").len()..])
                        .expect("acks are JSON arrays");
                    prop_assert!(body.is_array(), "{}", answer);
                    Ok(())
                })
            },
        )
        .unwrap();
    // The fuzzed socket and a fresh one are still served.
    let (mut client, id) = state.into_inner();
    rt.block_on(async {
        let id = id + 1;
        client
            .send(format!("42{id}[\"echo\",\"still here\"]"))
            .await;
        assert_eq!(
            ack(&mut client, id).await,
            format!("43{id}[\"still here\"]")
        );
        let mut fresh = RawClient::connect(server.addr(), None).await;
        fresh.send("421[\"echo\",1]".into()).await;
        assert_eq!(ack(&mut fresh, 1).await, "431[1]");
    });
}

#[test]
fn broken_packets_close_at_most_their_own_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(server());
    let config = proptest::test_runner::Config {
        // Each case opens a connection: a tenth of the cases of the other properties.
        cases: proptest::test_runner::Config::default().cases.div_ceil(10),
        ..Default::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&"[0-9]{0,2}[ -~]{0,40}", |garbage| {
            rt.block_on(async {
                let mut client = RawClient::connect(server.addr(), None).await;
                // Socket.IO closes a connection that sends a malformed packet; nothing else.
                client.send(garbage).await;
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(async {
        let mut fresh = RawClient::connect(server.addr(), None).await;
        fresh.send("421[\"echo\",\"after\"]".into()).await;
        assert_eq!(ack(&mut fresh, 1).await, "431[\"after\"]");
    });
}
