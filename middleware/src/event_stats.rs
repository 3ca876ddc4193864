//! Event statistics for the event stack: counts per event name and a windowed rate.
//!
//! ```
//! use iostack_core::App;
//! use iostack_middleware::event_stats::{EventStats, EventStatsLayer};
//!
//! # async fn run() {
//! let stats = EventStats::new();
//! let builder = App::builder(()).on_event(EventStatsLayer::new(stats.clone()));
//! // Later, from monitoring or a hook:
//! for entry in stats.snapshot() {
//!     println!("{}: {}", entry.event, entry.count);
//! }
//! println!("{:.1} events/s over the last 10 s", stats.rate(std::time::Duration::from_secs(10)));
//! # }
//! ```
//!
//! Counting takes a shard read lock and one atomic add (no global lock per event). The rate counts
//! events in per-second buckets over the last seconds (up to [`WINDOW_SECONDS`]), not a lifetime
//! average. [`EventStats`] is a [`MetricsSource`], so a `Monitor` can serve it as JSON and Prometheus.

use std::{
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use dashmap::DashMap;
use iostack_core::{
    EventRequest, monitoring::MetricsSource, socketioxide::adapter::Adapter as IoAdapter,
};
use serde::Serialize;
use tower_layer::Layer;
use tower_service::Service;

/// How many seconds of history the windowed rate can look at.
pub const WINDOW_SECONDS: u64 = 300;

/// How often one event name was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCount {
    /// The event name.
    pub event: String,
    /// How many times it was seen since the last reset.
    pub count: u64,
}

#[derive(Debug, Default)]
struct Bucket {
    second: AtomicU64,
    count: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    counts: DashMap<String, AtomicU64>,
    buckets: Box<[Bucket]>,
    origin: Instant,
}

/// Shared event statistics; cheap to clone, clones share the counts.
#[derive(Debug, Clone)]
pub struct EventStats {
    inner: Arc<Inner>,
}

impl Default for EventStats {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                counts: DashMap::new(),
                buckets: (0..WINDOW_SECONDS).map(|_| Bucket::default()).collect(),
                origin: Instant::now(),
            }),
        }
    }

    /// Counts one `event`.
    pub fn record(&self, event: &str) {
        match self.inner.counts.get(event) {
            Some(count) => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.inner
                    .counts
                    .entry(event.to_owned())
                    .or_default()
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        // Second 0 marks an unused bucket, so seconds count from 1.
        let second = self.inner.origin.elapsed().as_secs() + 1;
        let bucket = &self.inner.buckets[(second % WINDOW_SECONDS) as usize];
        let seen = bucket.second.load(Ordering::Acquire);
        if seen != second
            && bucket
                .second
                .compare_exchange(seen, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            bucket.count.store(0, Ordering::Release);
        }
        bucket.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts per event, most frequent first (ties by name).
    pub fn snapshot(&self) -> Vec<EventCount> {
        let mut all: Vec<EventCount> = self
            .inner
            .counts
            .iter()
            .map(|e| EventCount {
                event: e.key().clone(),
                count: e.value().load(Ordering::Relaxed),
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
        all
    }

    /// Every event counted since the last reset.
    pub fn total(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|e| e.value().load(Ordering::Relaxed))
            .sum()
    }

    /// Events per second over the last `window` (whole seconds, at most [`WINDOW_SECONDS`]),
    /// the current second included.
    pub fn rate(&self, window: Duration) -> f64 {
        let window = window.as_secs().clamp(1, WINDOW_SECONDS);
        let now = self.inner.origin.elapsed().as_secs() + 1;
        let oldest = now.saturating_sub(window - 1).max(1);
        let events: u64 = (oldest..=now)
            .map(|second| &self.inner.buckets[(second % WINDOW_SECONDS) as usize])
            .filter_map(|b| {
                let second = b.second.load(Ordering::Acquire);
                (second >= oldest && second <= now).then(|| b.count.load(Ordering::Relaxed))
            })
            .sum();
        events as f64 / (now - oldest + 1) as f64
    }

    /// Forgets every count (the rate window included).
    pub fn reset(&self) {
        self.inner.counts.clear();
        for bucket in self.inner.buckets.iter() {
            bucket.second.store(0, Ordering::Release);
            bucket.count.store(0, Ordering::Release);
        }
    }

    /// Logs the snapshot at every `interval`, then resets; stops when the handle is aborted.
    pub fn spawn_reporter(&self, interval: Duration) -> tokio::task::AbortHandle {
        let stats = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let snapshot = stats.snapshot();
                let total: u64 = snapshot.iter().map(|e| e.count).sum();
                tracing::info!(total, events = ?snapshot, "event statistics");
                stats.reset();
            }
        })
        .abort_handle()
    }
}

impl MetricsSource for EventStats {
    fn name(&self) -> &str {
        "events"
    }

    /// `scope` is `"node"`: events are counted where they arrive, and each node reports its own
    /// (Prometheus sums them across instances).
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "scope": "node",
            "total": self.total(),
            "rate_per_second_10s": self.rate(Duration::from_secs(10)),
            "rate_per_second_60s": self.rate(Duration::from_secs(60)),
            "counts": self.snapshot(),
        })
    }

    fn prometheus(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP iostack_events_total Socket.IO events received, by event name."
        );
        let _ = writeln!(out, "# TYPE iostack_events_total counter");
        for entry in self.snapshot() {
            let name = entry
                .event
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = writeln!(
                out,
                "iostack_events_total{{event=\"{name}\"}} {}",
                entry.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP iostack_events_per_second Events per second over the last 60 s."
        );
        let _ = writeln!(out, "# TYPE iostack_events_per_second gauge");
        let _ = writeln!(
            out,
            "iostack_events_per_second {}",
            self.rate(Duration::from_secs(60))
        );
    }
}

/// Counts every event that reaches this point of the event stack into an [`EventStats`].
#[derive(Debug, Clone)]
pub struct EventStatsLayer {
    stats: EventStats,
}

impl EventStatsLayer {
    /// Counts into `stats`.
    pub fn new(stats: EventStats) -> Self {
        Self { stats }
    }
}

impl<S> Layer<S> for EventStatsLayer {
    type Service = EventStatsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EventStatsService {
            inner,
            stats: self.stats.clone(),
        }
    }
}

/// The service of [`EventStatsLayer`].
#[derive(Debug, Clone)]
pub struct EventStatsService<S> {
    inner: S,
    stats: EventStats,
}

impl<S, A> Service<EventRequest<A>> for EventStatsService<S>
where
    A: IoAdapter,
    S: Service<EventRequest<A>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: EventRequest<A>) -> Self::Future {
        self.stats.record(req.event());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn snapshot_is_sorted_by_count_then_name() {
        let stats = EventStats::new();
        for event in ["b", "a", "chat", "chat", "chat", "a"] {
            stats.record(event);
        }
        let names: Vec<_> = stats
            .snapshot()
            .into_iter()
            .map(|e| (e.event, e.count))
            .collect();
        assert_eq!(
            names,
            [("chat".into(), 3), ("a".into(), 2), ("b".into(), 1)]
        );
        assert_eq!(stats.total(), 6);
        stats.reset();
        assert!(stats.snapshot().is_empty());
        assert_eq!(stats.rate(Duration::from_secs(10)), 0.0);
    }

    #[test]
    fn rate_counts_recent_events_only() {
        let stats = EventStats::new();
        for _ in 0..30 {
            stats.record("x");
        }
        // All 30 happened within the current second.
        assert_eq!(stats.rate(Duration::from_secs(1)), 30.0);
        assert!(stats.rate(Duration::from_secs(60)) <= 30.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn totals_equal_events_sent_by_concurrent_senders(per_thread in prop::collection::vec(0usize..2000, 1..6)) {
            let stats = EventStats::new();
            std::thread::scope(|scope| {
                for (i, n) in per_thread.iter().enumerate() {
                    let stats = stats.clone();
                    scope.spawn(move || {
                        for k in 0..*n {
                            stats.record(if k % 2 == 0 { "even" } else { ["a", "b", "c"][i % 3] });
                        }
                    });
                }
            });
            prop_assert_eq!(stats.total(), per_thread.iter().sum::<usize>() as u64);
        }
    }
}
