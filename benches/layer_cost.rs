//! What each event layer itself costs per event, with criterion: the layer around a service that
//! does nothing, called with a real event of a real socket, against that service alone.
//!
//! `cargo bench --bench layer_cost`. The side-by-side run's `BENCH_LAYERS=1` measures the same
//! layers in a served app, where this machine's noise is about ±0.5 µs per event; here only the
//! layer's own work is timed. The connect layers (IP allowlist, connection log, JWT auth) are not
//! on the event path: they cost nothing per event.
//!
//! A layer's cost is its time less the time of "no layer" (which drops the event); a gate, which
//! only reads the event before it is queued, is timed alone.

#[path = "support/servers.rs"]
mod servers;

use std::{future::Ready, time::Duration};

use criterion::{BatchSize, BenchmarkGroup, Criterion, measurement::WallTime};
use futures_util::FutureExt;
use iostack::{App, BoxError, EventGate, EventRequest, middleware::rate_limit::RateLimitLayer};
use iostack_testing::{RawClient, TestServer};
use tower::{Layer, Service, ServiceBuilder, util::MapRequestLayer};

/// The service every layer is measured around: it takes the event and does nothing.
#[derive(Clone, Copy)]
struct Nothing;

impl Service<EventRequest> for Nothing {
    type Response = ();
    type Error = BoxError;
    type Future = Ready<Result<(), BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: EventRequest) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

/// A rate limit that never refuses within a bench: what is measured is the check.
fn rate_limit() -> RateLimitLayer {
    RateLimitLayer::per_socket(u32::MAX, Duration::from_secs(1))
}

/// Serves an app that hands out a copy of the first event it gets, sends it one, and returns that
/// copy with the server and client, which keep its socket connected.
async fn real_event() -> (EventRequest, TestServer, RawClient) {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let app = App::builder(())
        .on_event(MapRequestLayer::new(move |req: EventRequest| {
            let _ = tx.send(req.clone());
            req
        }))
        .on("message", async || {})
        .build()
        .await
        .expect("app builds");
    let server = TestServer::start(app).await.expect("server starts");
    let mut client = RawClient::connect(server.addr(), None).await;
    client
        .send(r#"42["message",{"text":"hello","room":"lobby"}]"#.into())
        .await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the event arrives")
        .expect("the app runs");
    (event, server, client)
}

/// Times `service` called with copies of `event` (the copies are made outside the timing).
fn bench<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    event: &EventRequest,
    mut service: S,
) where
    S: Service<EventRequest, Response = (), Error = BoxError>,
{
    group.bench_function(name, |b| {
        b.iter_batched(
            || event.clone(),
            |req| {
                service
                    .call(req)
                    .now_or_never()
                    .expect("the layer answers at once")
                    .expect("the event passes")
            },
            BatchSize::SmallInput,
        );
    });
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (event, _server, _client) = runtime.block_on(real_event());
    let _context = runtime.enter();

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("per event");
    bench(&mut group, "no layer", &event, Nothing);
    bench(
        &mut group,
        "rate limit",
        &event,
        rate_limit().layer(Nothing),
    );
    bench(
        &mut group,
        "event statistics",
        &event,
        servers::event_stats().layer(Nothing),
    );
    bench(
        &mut group,
        "both",
        &event,
        ServiceBuilder::new()
            .layer(rate_limit())
            .layer(servers::event_stats())
            .service(Nothing),
    );
    let gate = rate_limit().into_gate();
    group.bench_function("rate limit, as a gate", |b| {
        b.iter(|| {
            gate.check(std::hint::black_box(&event))
                .expect("the event passes")
        });
    });
    group.finish();
    criterion.final_summary();
}
