//! Monitoring: connection statistics, adapter health and pluggable metrics, as JSON and Prometheus text.
//!
//! ```no_run
//! # async fn run(app: iostack_core::App<()>) {
//! use iostack_core::monitoring::Access;
//!
//! let monitor = app.monitor();
//! let routes = monitor.router(Access::bearer("s3cret")); // GET /stats (JSON), GET /metrics (Prometheus)
//! let router = app.router().merge(routes);
//! # }
//! ```
//!
//! A live page over the same JSON, for people: [`Monitor::page_router`] serves static HTML and
//! JavaScript (no CDN) that poll `/stats` once a second with the bearer token typed into the page
//! or given in its address (`/monitor#token=...`, removed from the address bar once read).
//!
//! ```no_run
//! # async fn run(app: iostack_core::App<()>) {
//! use iostack_core::monitoring::Access;
//!
//! let monitor = app.monitor();
//! let app = app
//!     .merge(monitor.router(Access::bearer("s3cret")))
//!     .merge(monitor.page_router("/monitor", "/stats"));
//! # }
//! ```

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::{ConnectionInfo, Health, Io, adapter::DynAdapter};

mod page;
mod prometheus;

pub use prometheus::{Family, PrometheusText};

/// Extra metrics served by a [`Monitor`], e.g. the event statistics of the middleware crate.
pub trait MetricsSource: Send + Sync + 'static {
    /// Key of this source in the JSON output.
    fn name(&self) -> &str;
    /// The metrics as JSON.
    fn json(&self) -> serde_json::Value;
    /// Appends the metrics in the Prometheus text exposition format.
    fn prometheus(&self, out: &mut PrometheusText);
}

/// Who may read the monitoring routes.
#[derive(Clone)]
pub struct Access(Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>);

impl Access {
    /// Requests must carry `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Self {
        let expected = format!("Bearer {}", token.into());
        Self::check(move |headers| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()))
        })
    }

    /// Any check on the request headers.
    pub fn check(f: impl Fn(&HeaderMap) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// No check: only for routes that are not reachable from outside.
    pub fn open() -> Self {
        Self::check(|_| true)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One socket, as connection statistics report it.
#[derive(Debug, Clone, Serialize)]
pub struct SocketStats {
    /// What the registry recorded (detailed for sockets of this node only).
    #[serde(flatten)]
    pub info: ConnectionInfo,
    /// The rooms the socket is in.
    pub rooms: Vec<String>,
}

/// What is connected, on this node and, where the adapter can tell, in the whole cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStats {
    /// Live sockets on this node.
    pub count: usize,
    /// Live sockets in the cluster, when the adapter could answer (with memory: this node).
    pub cluster_count: Option<usize>,
    /// Why `cluster_count` is missing, when it is.
    pub cluster_error: Option<String>,
    /// Details of this node's sockets (other nodes report their own).
    pub sockets: Vec<SocketStats>,
}

/// Reads the state of a running app for monitoring; cheap to clone.
pub struct Monitor {
    io: Io,
    adapter: Arc<dyn DynAdapter>,
    sources: Vec<Arc<dyn MetricsSource>>,
}

impl Clone for Monitor {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            adapter: self.adapter.clone(),
            sources: self.sources.clone(),
        }
    }
}

impl Monitor {
    pub(crate) fn new(io: Io, adapter: Arc<dyn DynAdapter>) -> Self {
        Self {
            io,
            adapter,
            sources: Vec::new(),
        }
    }

    /// Adds a metrics source (served under its name in JSON, appended to `/metrics`).
    pub fn with_source(mut self, source: impl MetricsSource) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// Connection statistics: every socket of this node in detail, and the cluster-wide count.
    pub async fn connection_stats(&self) -> ConnectionStats {
        let mut sockets: Vec<SocketStats> = self
            .io
            .connections()
            .into_iter()
            .map(|info| SocketStats {
                rooms: Vec::new(),
                info,
            })
            .collect();
        let index: std::collections::HashMap<(String, String), usize> = sockets
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.info.ns.clone(), s.info.id.clone()), i))
            .collect();
        for socket in self.io.sockets() {
            let key = (socket.ns().to_owned(), socket.id.to_string());
            if let Some(&i) = index.get(&key) {
                let entry = &mut sockets[i];
                entry.rooms = socket.rooms().into_iter().map(|r| r.to_string()).collect();
                entry.rooms.sort();
            }
        }
        let (cluster_count, cluster_error) = match self.cluster_count().await {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e)),
        };
        ConnectionStats {
            count: sockets.len(),
            cluster_count,
            cluster_error,
            sockets,
        }
    }

    async fn cluster_count(&self) -> Result<usize, String> {
        let mut total = 0;
        for ns in self.io.socketio().nsps() {
            total += ns.fetch_sockets().await.map_err(|e| e.to_string())?.len();
        }
        Ok(total)
    }

    /// Everything as one JSON document: adapter, health, connections and every source.
    pub async fn json(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "adapter": self.io.adapter_name(),
            "health": self.adapter.health().await,
            "connections": self.connection_stats().await,
            "dropped_messages": self.io.deliveries().dropped(),
            "slow_consumers_disconnected": self.io.deliveries().slow_consumers_disconnected(),
        });
        for source in &self.sources {
            doc[source.name()] = source.json();
        }
        doc
    }

    /// Everything in the Prometheus text exposition format.
    pub async fn prometheus(&self) -> String {
        let stats = self.connection_stats().await;
        let up = matches!(self.adapter.health().await, Health::Up) as u8;
        let mut out = PrometheusText::default();
        out.family(
            "iostack_connections",
            "gauge",
            "Live Socket.IO connections on this node.",
        )
        .sample(&[], stats.count);
        if let Some(n) = stats.cluster_count {
            out.family(
                "iostack_cluster_connections",
                "gauge",
                "Live connections in the cluster.",
            )
            .sample(&[], n);
        }
        out.family(
            "iostack_adapter_up",
            "gauge",
            "Whether the adapter's store answers.",
        )
        .sample(&[("adapter", self.io.adapter_name())], up);
        let mut dropped = out.family(
            "iostack_dropped_messages_total",
            "counter",
            "Messages refused by full socket buffers, per namespace.",
        );
        let namespaces = self.io.socketio().nsps();
        for ns in &namespaces {
            let path = ns.ns_path();
            let count = self.io.deliveries().dropped_in_namespace(path);
            dropped.sample(&[("namespace", path)], count);
        }
        let mut disconnected = out.family(
            "iostack_slow_consumers_disconnected_total",
            "counter",
            "Sockets disconnected because their buffer was full (Overflow::Disconnect), per namespace.",
        );
        for ns in &namespaces {
            let path = ns.ns_path();
            let count = self
                .io
                .deliveries()
                .slow_consumers_disconnected_in_namespace(path);
            disconnected.sample(&[("namespace", path)], count);
        }
        for source in &self.sources {
            source.prometheus(&mut out);
        }
        out.finish()
    }

    /// An axum router with the live monitoring page at `path` (and its script at
    /// `{path}/monitor.js`); the page reads the JSON of [`router`](Self::router) at `stats_url`
    /// (same origin), so it shows what `/stats` shows. The page itself holds no data and needs no
    /// token; the token is asked for in the page.
    pub fn page_router(&self, path: &str, stats_url: &str) -> Router {
        page::router(path, stats_url)
    }

    /// An axum router with `GET /stats` (JSON) and `GET /metrics` (Prometheus), guarded by `access`
    /// (`401` when refused). Merge or nest it into your router.
    pub fn router(&self, access: Access) -> Router {
        Router::new()
            .route("/stats", get(stats_route))
            .route("/metrics", get(metrics_route))
            .with_state((self.clone(), access))
    }
}

type RouteState = State<(Monitor, Access)>;

async fn stats_route(State((monitor, access)): RouteState, headers: HeaderMap) -> Response {
    if !(access.0)(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(monitor.json().await).into_response()
}

async fn metrics_route(State((monitor, access)): RouteState, headers: HeaderMap) -> Response {
    if !(access.0)(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        monitor.prometheus().await,
    )
        .into_response()
}
