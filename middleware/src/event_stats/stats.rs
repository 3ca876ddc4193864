//! [`EventStats`]: the counts, the capped names, the windowed rate and their export.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use dashmap::{DashMap, mapref::entry::Entry};
use iostack_core::monitoring::{MetricsSource, PrometheusText};
use serde::Serialize;
/// How many seconds of history the windowed rate can look at.
pub const WINDOW_SECONDS: u64 = 300;

/// How many distinct event names are counted by default before [`OVERFLOW_EVENT`] is used.
pub const DEFAULT_MAX_EVENTS: usize = 1000;

/// The name under which events are counted once the cap on distinct names is reached.
pub const OVERFLOW_EVENT: &str = "(other)";

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

/// The count of one name, and whether the name holds one of the capped slots.
#[derive(Debug)]
struct Counter {
    count: AtomicU64,
    holds_slot: bool,
}

#[derive(Debug)]
struct Inner {
    counts: DashMap<String, Counter>,
    /// Names currently holding a slot; never above `max_events`.
    distinct: AtomicUsize,
    max_events: usize,
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
    /// Empty statistics, keeping at most [`DEFAULT_MAX_EVENTS`] distinct event names.
    pub fn new() -> Self {
        Self::with_max_events(DEFAULT_MAX_EVENTS)
    }

    /// Empty statistics keeping at most `max` distinct event names (at least one); events with
    /// other names are counted under [`OVERFLOW_EVENT`], so at most `max + 1` names are kept.
    pub fn with_max_events(max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                counts: DashMap::new(),
                distinct: AtomicUsize::new(0),
                max_events: max.max(1),
                buckets: (0..WINDOW_SECONDS).map(|_| Bucket::default()).collect(),
                origin: Instant::now(),
            }),
        }
    }

    /// How many distinct event names are kept at most, [`OVERFLOW_EVENT`] aside.
    pub fn max_events(&self) -> usize {
        self.inner.max_events
    }

    /// Counts one `event` (under [`OVERFLOW_EVENT`] when the cap on names is reached).
    pub fn record(&self, event: &str) {
        if let Some(counter) = self.inner.counts.get(event) {
            counter.count.fetch_add(1, Ordering::Relaxed);
        } else if self.reserve_slot() {
            match self.inner.counts.entry(event.to_owned()) {
                Entry::Occupied(e) => {
                    // Another sender inserted it meanwhile: give the slot back.
                    e.get().count.fetch_add(1, Ordering::Relaxed);
                    self.inner.distinct.fetch_sub(1, Ordering::AcqRel);
                }
                Entry::Vacant(e) => {
                    e.insert(Counter {
                        count: AtomicU64::new(1),
                        holds_slot: true,
                    });
                }
            }
        } else {
            self.inner
                .counts
                .entry(OVERFLOW_EVENT.to_owned())
                .or_insert_with(|| Counter {
                    count: AtomicU64::new(0),
                    holds_slot: false,
                })
                .count
                .fetch_add(1, Ordering::Relaxed);
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

    /// Takes one of the capped name slots, if any is left.
    fn reserve_slot(&self) -> bool {
        let max = self.inner.max_events;
        self.inner
            .distinct
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Counts per event, most frequent first (ties by name).
    pub fn snapshot(&self) -> Vec<EventCount> {
        let mut all: Vec<EventCount> = self
            .inner
            .counts
            .iter()
            .map(|e| EventCount {
                event: e.key().clone(),
                count: e.value().count.load(Ordering::Relaxed),
            })
            .collect();
        sort(&mut all);
        all
    }

    /// The counts per event since the last `take` or [`reset`](Self::reset), most frequent first
    /// (ties by name), and forgets them: each event is in exactly one taken report, none is lost
    /// to a concurrent [`record`](Self::record). The rate window is kept.
    pub fn take(&self) -> Vec<EventCount> {
        let mut all = Vec::new();
        self.inner.counts.retain(|event, counter| {
            let count = counter.count.swap(0, Ordering::AcqRel);
            if count > 0 {
                all.push(EventCount {
                    event: event.clone(),
                    count,
                });
            }
            if counter.holds_slot {
                self.inner.distinct.fetch_sub(1, Ordering::AcqRel);
            }
            false
        });
        sort(&mut all);
        all
    }

    /// Every event counted since the last reset.
    pub fn total(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|e| e.value().count.load(Ordering::Relaxed))
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
        self.take();
        for bucket in self.inner.buckets.iter() {
            bucket.second.store(0, Ordering::Release);
            bucket.count.store(0, Ordering::Release);
        }
    }

    /// Every `interval`, [takes](Self::take) the counts and logs them as
    /// `Event statistics: [{"event":…,"count":…},…]` (most frequent first); stops when the handle
    /// is aborted. Must be called within a tokio runtime.
    pub fn spawn_reporter(&self, interval: Duration) -> tokio::task::AbortHandle {
        let stats = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let report = stats.take();
                let total: u64 = report.iter().map(|e| e.count).sum();
                let json = serde_json::to_string(&report).unwrap_or_default();
                tracing::info!(total, "Event statistics: {json}");
            }
        })
        .abort_handle()
    }
}

fn sort(all: &mut [EventCount]) {
    all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
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

    fn prometheus(&self, out: &mut PrometheusText) {
        let mut events = out.family(
            "iostack_events_total",
            "counter",
            "Socket.IO events received, by event name.",
        );
        for entry in self.snapshot() {
            events.sample(&[("event", &entry.event)], entry.count);
        }
        out.family(
            "iostack_events_per_second",
            "gauge",
            "Events per second over the last 60 s.",
        )
        .sample(&[], self.rate(Duration::from_secs(60)));
    }
}
