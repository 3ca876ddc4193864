//! The Redis side: one multiplexed connection that publishes and queries (`ConnectionManager`,
//! which reconnects by itself), and one pub/sub connection owned by a task that reconnects with
//! backoff and resubscribes every channel and pattern after an outage.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use redis::{
    RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink},
};
use tokio::sync::mpsc;

use crate::RedisNodeConfig;

/// How many messages of one namespace may wait for its handler before new ones are dropped.
pub(crate) const QUEUE: usize = 4096;

/// What a subscribed channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelKind {
    Broadcast,
    Request,
    Response,
}

/// One message read from Redis, for the namespace that subscribed to its channel.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) kind: ChannelKind,
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

type Route = (ChannelKind, mpsc::Sender<Incoming>);

#[derive(Default)]
struct Routes {
    channels: HashMap<String, Route>,
    patterns: HashMap<String, Route>,
}

/// The pub/sub connection of the moment, and everything that must be subscribed on it.
#[derive(Default)]
struct Subscriber {
    sink: Option<PubSubSink>,
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
}

/// The connection of every namespace of one node.
pub(crate) struct Connection {
    client: redis::Client,
    publisher: ConnectionManager,
    subscriber: tokio::sync::Mutex<Subscriber>,
    routes: Mutex<Routes>,
    timeout: Duration,
    keepalive: Duration,
    /// Times the pub/sub connection was replaced.
    reconnections: AtomicU64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects both connections; fails if Redis does not answer within the connect timeout.
    pub(crate) async fn open(config: &RedisNodeConfig) -> RedisResult<Arc<Self>> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.connect_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let publisher = ConnectionManager::new_with_config(client.clone(), manager).await?;
        let conn = Arc::new(Self {
            client,
            publisher,
            subscriber: tokio::sync::Mutex::default(),
            routes: Mutex::default(),
            timeout: config.connect_timeout,
            keepalive: config.keepalive,
            reconnections: AtomicU64::new(0),
        });
        let sink = conn.connect_subscriber().await?;
        tokio::spawn(run_subscriber(Arc::downgrade(&conn), sink));
        Ok(conn)
    }

    /// A fresh pub/sub connection with every known channel and pattern subscribed.
    async fn connect_subscriber(&self) -> RedisResult<redis::aio::PubSubStream> {
        let pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| timeout_error("connecting for pub/sub"))??;
        let (mut sink, stream) = pubsub.split();
        let mut sub = self.subscriber.lock().await;
        for chan in &sub.channels {
            sink.subscribe(chan).await?;
        }
        for pattern in &sub.patterns {
            sink.psubscribe(pattern).await?;
        }
        sub.sink = Some(sink);
        Ok(stream)
    }

    /// Whether the pub/sub connection answers a `PING` within the connect timeout: a connection
    /// that died without closing (a network partition) would otherwise wait forever.
    async fn ping_subscriber(&self) -> bool {
        let Some(mut sink) = self.subscriber.lock().await.sink.clone() else {
            return false;
        };
        matches!(
            tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await,
            Ok(Ok(_))
        )
    }

    async fn lost_subscriber(&self) {
        self.subscriber.lock().await.sink = None;
    }

    /// Subscribes the channels and patterns of one namespace; its messages go to `tx`.
    pub(crate) async fn subscribe(
        &self,
        channels: &[(ChannelKind, String)],
        patterns: &[(ChannelKind, String)],
        tx: mpsc::Sender<Incoming>,
    ) -> RedisResult<()> {
        {
            let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            for (kind, chan) in channels {
                routes.channels.insert(chan.clone(), (*kind, tx.clone()));
            }
            for (kind, pattern) in patterns {
                routes.patterns.insert(pattern.clone(), (*kind, tx.clone()));
            }
        }
        let mut sub = self.subscriber.lock().await;
        sub.channels.extend(channels.iter().map(|(_, c)| c.clone()));
        sub.patterns.extend(patterns.iter().map(|(_, p)| p.clone()));
        // Kept in the sets even if this fails: the next reconnection subscribes them.
        let Some(sink) = sub.sink.as_mut() else {
            return Err(timeout_error("pub/sub connection is down"));
        };
        for (_, chan) in channels {
            tokio::time::timeout(self.timeout, sink.subscribe(chan))
                .await
                .map_err(|_| timeout_error("SUBSCRIBE"))??;
        }
        for (_, pattern) in patterns {
            tokio::time::timeout(self.timeout, sink.psubscribe(pattern))
                .await
                .map_err(|_| timeout_error("PSUBSCRIBE"))??;
        }
        Ok(())
    }

    /// Forgets the channels and patterns of a closed namespace.
    pub(crate) async fn unsubscribe(&self, channels: &[String], patterns: &[String]) {
        {
            let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            for chan in channels {
                routes.channels.remove(chan);
            }
            for pattern in patterns {
                routes.patterns.remove(pattern);
            }
        }
        let mut sub = self.subscriber.lock().await;
        for chan in channels {
            sub.channels.remove(chan);
        }
        for pattern in patterns {
            sub.patterns.remove(pattern);
        }
        if let Some(sink) = sub.sink.as_mut() {
            for chan in channels {
                let _ = tokio::time::timeout(self.timeout, sink.unsubscribe(chan)).await;
            }
            for pattern in patterns {
                let _ = tokio::time::timeout(self.timeout, sink.punsubscribe(pattern)).await;
            }
        }
    }

    fn route(&self, msg: &redis::Msg) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let route = if msg.from_pattern() {
            msg.get_pattern::<String>()
                .ok()
                .and_then(|p| routes.patterns.get(&p))
        } else {
            routes.channels.get(msg.get_channel_name())
        };
        let Some((kind, tx)) = route else {
            tracing::debug!(
                channel = msg.get_channel_name(),
                "message on an unknown channel"
            );
            return;
        };
        let incoming = Incoming {
            kind: *kind,
            channel: msg.get_channel_name().to_owned(),
            payload: msg.get_payload_bytes().to_vec(),
        };
        if tx.try_send(incoming).is_err() {
            tracing::warn!(
                channel = msg.get_channel_name(),
                "namespace queue full or closed: message dropped"
            );
        }
    }

    /// Publishes `payload` on `channel`, within the connect timeout.
    pub(crate) async fn publish(&self, channel: &str, payload: Vec<u8>) -> RedisResult<()> {
        let mut conn = self.publisher.clone();
        let cmd = redis::cmd("PUBLISH").arg(channel).arg(payload).to_owned();
        tokio::time::timeout(self.timeout, cmd.query_async::<i64>(&mut conn))
            .await
            .map_err(|_| timeout_error("PUBLISH"))?
            .map(drop)
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`): the node count when
    /// `channel` is a request channel.
    pub(crate) async fn subscribers(&self, channel: &str) -> RedisResult<u16> {
        let mut conn = self.publisher.clone();
        let cmd = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).to_owned();
        let counts: Vec<(String, u64)> =
            tokio::time::timeout(self.timeout, cmd.query_async(&mut conn))
                .await
                .map_err(|_| timeout_error("PUBSUB NUMSUB"))??;
        Ok(counts
            .first()
            .map_or(0, |(_, n)| (*n).min(u64::from(u16::MAX)) as u16))
    }

    /// `PING`, for health reports.
    pub(crate) async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.publisher.clone();
        tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| timeout_error("PING"))?
        .map(drop)
    }
}

fn timeout_error(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Io,
        "no answer from Redis",
        what.to_owned(),
    ))
}

/// Reads pub/sub messages until the connection drops, then reconnects with backoff; ends when
/// the node's adapter is gone.
async fn run_subscriber(conn: Weak<Connection>, mut stream: redis::aio::PubSubStream) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let every = match conn.upgrade() {
            Some(c) => c.keepalive,
            None => return,
        };
        let mut keepalive = tokio::time::interval(every);
        keepalive.reset();
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(conn) = conn.upgrade() else { return };
                    conn.route(&msg);
                }
                _ = keepalive.tick() => {
                    let Some(conn) = conn.upgrade() else { return };
                    if !conn.ping_subscriber().await {
                        break;
                    }
                }
            }
        }
        tracing::error!("redis pub/sub connection lost; reconnecting");
        loop {
            let Some(c) = conn.upgrade() else { return };
            c.lost_subscriber().await;
            match c.connect_subscriber().await {
                Ok(s) => {
                    c.reconnections.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("redis pub/sub connection restored; channels resubscribed");
                    stream = s;
                    backoff = Duration::from_millis(100);
                    break;
                }
                Err(e) => {
                    tracing::warn!(retry_in = ?backoff, "redis pub/sub reconnection failed: {e}");
                    drop(c);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iostack_testing::services::RedisServer;

    #[tokio::test]
    async fn keepalive_pings_keep_a_healthy_subscription_and_replace_a_dead_one() {
        let mut redis = RedisServer::start().await.unwrap();
        let config = RedisNodeConfig::new(redis.url())
            .keepalive(Duration::from_millis(20))
            // Long enough that a PING slowed by a loaded machine does not count as dead.
            .connect_timeout(Duration::from_secs(2));
        let conn = Connection::open(&config).await.unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        conn.subscribe(&[(ChannelKind::Request, "c".into())], &[], tx)
            .await
            .unwrap();
        // Many keepalive periods later, still the first connection, still delivering.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(conn.reconnections.load(Ordering::Relaxed), 0);
        conn.publish("c", b"one".to_vec()).await.unwrap();
        let got = tokio::time::timeout(iostack_testing::WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.payload, b"one");

        // A restarted Redis: replaced and resubscribed. The task subscribes before it counts
        // the reconnection, so wait for both.
        redis.restart().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let subscribers = conn.subscribers("c").await.unwrap_or(0);
            let reconnections = conn.reconnections.load(Ordering::Relaxed);
            if subscribers > 0 && reconnections >= 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not replaced and resubscribed within 30 s \
                 ({subscribers} subscribers, {reconnections} reconnections)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        conn.publish("c", b"two".to_vec()).await.unwrap();
        let got = tokio::time::timeout(iostack_testing::WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.payload, b"two");
    }
}
