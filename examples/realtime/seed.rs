//! [`SeedHooks`]: the lifecycle hooks of the Strapi io plugin's page, section by section, as one
//! `#[iostack::hooks]` impl: the log lines of the namespaces and auto-joined rooms, the periodic
//! `Active connections` and `Event statistics` reports, and their end at shutdown.

use std::{sync::Mutex, time::Duration};

use iostack::{
    HookError, Identity, InitContext, extract::SocketRef, middleware::event_stats::EventStats,
};
use tokio::task::AbortHandle;

/// How often the periodic reports run (the page: every minute, every five minutes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intervals {
    pub(crate) active_connections: Duration,
    pub(crate) event_stats: Duration,
}

impl Intervals {
    /// `ACTIVE_CONNECTIONS_INTERVAL_MS` (default 60000) and `EVENT_STATS_INTERVAL_MS` (default 300000).
    pub(crate) fn from_env() -> Result<Self, String> {
        Ok(Self {
            active_connections: millis("ACTIVE_CONNECTIONS_INTERVAL_MS", 60_000)?,
            event_stats: millis("EVENT_STATS_INTERVAL_MS", 300_000)?,
        })
    }
}

/// Reads a duration in milliseconds from `var`, `default` when unset.
pub(crate) fn millis(var: &str, default: u64) -> Result<Duration, String> {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("{var} must be a number of milliseconds, got `{v}`")),
        Err(_) => Ok(Duration::from_millis(default)),
    }
}

/// The page's `init` hooks that log and report; the middleware and handlers are in `main.rs`.
pub(crate) struct SeedHooks {
    pub(crate) stats: EventStats,
    pub(crate) intervals: Intervals,
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
}

fn display_name(user: &Identity) -> String {
    user.username.clone().unwrap_or_else(|| user.id.clone())
}

#[iostack::hooks]
impl SeedHooks {
    async fn init(&self, cx: &mut InitContext<()>) -> Result<(), HookError> {
        // "Periodic stats logging": the sockets of the main namespace, every minute.
        let io = cx.io.clone();
        let every = self.intervals.active_connections;
        let active = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let n = io.connections().iter().filter(|c| c.ns == "/").count();
                tracing::info!(connections = n, "[io] Active connections: {n}");
            }
        });
        // "Report stats every 5 minutes", then reset.
        let report = self.stats.spawn_reporter(self.intervals.event_stats);
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.extend([active.abort_handle(), report]);
        tracing::info!("[io] Namespaces configured: /admin, /chat");
        Ok(())
    }

    #[on_connection(ns = "/admin")]
    async fn admin_connected(&self, user: Option<Identity>) {
        let name = user.as_ref().map(display_name).unwrap_or_default();
        tracing::info!("[io] Admin connected: {name}");
    }

    #[on_connection(ns = "/chat")]
    async fn chat_user_connected(&self) {
        tracing::info!("[io] Chat user connected");
    }

    /// "Auto-join rooms": the rooms were joined by the connect stack, before connect.
    #[on_connection(ns = "/")]
    async fn joined_rooms(&self, socket: SocketRef, user: Identity) {
        let mut rooms: Vec<String> = socket.rooms().into_iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let rooms = serde_json::to_string(&rooms).unwrap_or_default();
        tracing::info!("[io] User {} joined rooms: {rooms}", display_name(&user));
    }

    #[on_shutdown]
    async fn stop_reports(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}
