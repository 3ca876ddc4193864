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
//! average. [`EventStats`] is a [`MetricsSource`](iostack_core::monitoring::MetricsSource), so a `Monitor` can serve it as JSON and Prometheus.
//!
//! Event names are chosen by clients, so the number of distinct names kept is capped
//! ([`DEFAULT_MAX_EVENTS`], see [`EventStats::with_max_events`]): once the cap is reached, events
//! with a new name are counted under [`OVERFLOW_EVENT`], and memory stays bounded whatever clients send.
//!
//! [`EventStats::take`] returns the counts and starts a new period, the way a periodic report
//! (`[{event, count}]`, most frequent first, then reset) needs; [`EventStats::spawn_reporter`] logs
//! one such report per interval.

mod stats;

pub use stats::{DEFAULT_MAX_EVENTS, EventCount, EventStats, OVERFLOW_EVENT, WINDOW_SECONDS};

use std::task::{Context, Poll};

use iostack_core::EventRequest;
use tower_layer::Layer;
use tower_service::Service;

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

impl<S> Service<EventRequest> for EventStatsService<S>
where
    S: Service<EventRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: EventRequest) -> Self::Future {
        self.stats.record(req.event());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests;
