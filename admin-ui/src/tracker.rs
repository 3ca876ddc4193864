//! What this node tells the Admin UI: connections and disconnections as they happen (hooks), room
//! changes and transport upgrades found by comparing snapshots, and `server_stats` on a timer.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use iostack_core::{
    HookError, Hooks, InitContext, Io,
    extract::{DisconnectReason, SocketRef},
};
use serde::Serialize;
use serde_json::json;
use tokio::{sync::Notify, task::AbortHandle};

use crate::{
    auth::NewSession,
    protocol::{self, SocketView},
};

/// Most remote sockets whose rooms `all_sockets` asks their node for; the rest are listed without.
const MAX_REMOTE_ROOM_LOOKUPS: usize = 200;
/// How long one remote room lookup may take.
const REMOTE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// Distinct (second, type) entries kept between two `server_stats`.
const MAX_BUFFERED_EVENTS: usize = 256;

/// The settings the tracker needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) namespace: String,
    pub(crate) server_id: String,
    pub(crate) interval: Duration,
    pub(crate) readonly: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Known {
    rooms: BTreeSet<String>,
    transport: &'static str,
}

#[derive(Debug, Serialize)]
struct AggregatedEvent {
    timestamp: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "subType", skip_serializing_if = "Option::is_none")]
    sub_type: Option<String>,
    count: u64,
}

/// This node's view, shared by the hooks, the timer and the action handlers.
pub(crate) struct Tracker {
    settings: Settings,
    io: OnceLock<Io>,
    known: Mutex<HashMap<(String, String), Known>>,
    events: Mutex<Vec<AggregatedEvent>>,
    changed: Notify,
    task: Mutex<Option<AbortHandle>>,
    started: Instant,
}

impl Tracker {
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            settings,
            io: OnceLock::new(),
            known: Mutex::default(),
            events: Mutex::default(),
            changed: Notify::new(),
            task: Mutex::default(),
            started: Instant::now(),
        }
    }

    /// Asks for a room comparison now (after an action of the UI), not at the next tick.
    pub(crate) fn rooms_changed(&self) {
        self.changed.notify_one();
    }

    async fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) {
        let Some(io) = self.io.get() else { return };
        let Some(admin) = io.of(&self.settings.namespace) else {
            return;
        };
        if let Err(e) = admin.emit(event, data).await {
            tracing::debug!(event, "Admin UI: could not emit: {e}");
        }
    }

    fn count(&self, kind: &'static str, sub_type: Option<String>) {
        let timestamp = protocol::millis(std::time::SystemTime::now()) / 1000 * 1000;
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = events
            .iter_mut()
            .find(|e| e.timestamp == timestamp && e.kind == kind && e.sub_type == sub_type)
        {
            entry.count += 1;
        } else if events.len() < MAX_BUFFERED_EVENTS {
            events.push(AggregatedEvent {
                timestamp,
                kind,
                sub_type,
                count: 1,
            });
        }
    }

    fn view(&self, socket: &SocketRef) -> SocketView {
        let info = self
            .io
            .get()
            .and_then(|io| io.registry().get(socket.ns(), &socket.id.to_string()));
        protocol::local_socket(socket, info.as_ref())
    }

    /// Every socket of the cluster: this node's in detail, the others' with their rooms.
    async fn all_sockets(&self) -> Vec<SocketView> {
        let Some(io) = self.io.get() else {
            return Vec::new();
        };
        let local: Vec<SocketView> = io.sockets().iter().map(|s| self.view(s)).collect();
        let local_ids: HashSet<(String, String)> = local
            .iter()
            .map(|s| (s.nsp.clone(), s.id.clone()))
            .collect();
        let mut all = local;
        let mut lookups = 0;
        for ns in io.socketio().nsps() {
            let remote = match ns.fetch_sockets().await {
                Ok(remote) => remote,
                Err(e) => {
                    tracing::warn!("Admin UI: cannot list the sockets of other nodes: {e}");
                    continue;
                }
            };
            for socket in remote {
                let data = socket.data();
                let key = (data.ns.to_string(), data.id.to_string());
                if local_ids.contains(&key) {
                    continue;
                }
                let mut rooms = Vec::new();
                if lookups < MAX_REMOTE_ROOM_LOOKUPS {
                    lookups += 1;
                    if let Ok(Ok(found)) =
                        tokio::time::timeout(REMOTE_LOOKUP_TIMEOUT, socket.rooms()).await
                    {
                        rooms = found.into_iter().map(|r| r.to_string()).collect();
                        rooms.sort();
                    }
                }
                all.push(protocol::remote_socket(key.1, key.0, rooms));
            }
        }
        all
    }

    /// Compares the live sockets with the last snapshot and reports room and transport changes.
    async fn report_changes(&self) {
        let Some(io) = self.io.get() else { return };
        let now = protocol::iso_now();
        let mut joined = Vec::new();
        let mut left = Vec::new();
        let mut upgraded = Vec::new();
        let mut gone = Vec::new();
        {
            let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            let mut live = HashSet::new();
            for socket in io.sockets() {
                let key = (socket.ns().to_owned(), socket.id.to_string());
                live.insert(key.clone());
                // Sockets not yet announced are left to `on_connection`.
                let Some(entry) = known.get_mut(&key) else {
                    continue;
                };
                let rooms: BTreeSet<String> =
                    socket.rooms().into_iter().map(|r| r.to_string()).collect();
                for room in rooms.difference(&entry.rooms) {
                    joined.push((key.0.clone(), room.clone(), key.1.clone()));
                }
                for room in entry.rooms.difference(&rooms) {
                    left.push((key.0.clone(), room.clone(), key.1.clone()));
                }
                let transport = protocol::transport_name(socket.transport_type());
                if transport != entry.transport {
                    upgraded.push(json!({ "id": key.1, "nsp": key.0, "transport": transport }));
                }
                *entry = Known { rooms, transport };
            }
            known.retain(|key, _| {
                let keep = live.contains(key);
                if !keep {
                    gone.push(key.clone());
                }
                keep
            });
        }
        for (nsp, room, id) in joined {
            self.emit("room_joined", &(nsp, room, id, &now)).await;
        }
        for (nsp, room, id) in left {
            self.emit("room_left", &(nsp, room, id, &now)).await;
        }
        for update in upgraded {
            self.emit("socket_updated", &update).await;
        }
        for (nsp, id) in gone {
            self.emit("socket_disconnected", &(nsp, id, "transport close", &now))
                .await;
        }
    }

    async fn server_stats(&self) {
        let Some(io) = self.io.get() else { return };
        let sockets = io.sockets();
        let clients: HashSet<String> = sockets.iter().map(|s| s.id.to_string()).collect();
        let polling: HashSet<String> = sockets
            .iter()
            .filter(|s| {
                matches!(
                    s.transport_type(),
                    iostack_core::socketioxide::TransportType::Polling
                )
            })
            .map(|s| s.id.to_string())
            .collect();
        let mut namespaces: HashMap<String, usize> = io
            .socketio()
            .nsps()
            .iter()
            .map(|ns| (ns.ns_path().to_owned(), 0))
            .collect();
        for socket in &sockets {
            *namespaces.entry(socket.ns().to_owned()).or_default() += 1;
        }
        let mut namespaces: Vec<_> = namespaces
            .into_iter()
            .map(|(name, count)| json!({ "name": name, "socketsCount": count }))
            .collect();
        namespaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let events = std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()));
        let stats = json!({
            "serverId": self.settings.server_id,
            "hostname": hostname(),
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": clients.len(),
            "pollingClientsCount": polling.len(),
            "aggregatedEvents": events,
            "namespaces": namespaces,
        });
        self.emit("server_stats", &stats).await;
    }

    async fn run(self: Arc<Self>) {
        let mut timer = tokio::time::interval(self.settings.interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = timer.tick() => {
                    self.report_changes().await;
                    self.server_stats().await;
                }
                () = self.changed.notified() => self.report_changes().await,
            }
        }
    }
}

pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The hooks through which the tracker hears of connections.
pub(crate) struct TrackerHooks(pub(crate) Arc<Tracker>);

#[async_trait::async_trait]
impl<S> Hooks<S> for TrackerHooks
where
    S: Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "iostack-admin-ui"
    }

    async fn init(&self, cx: &mut InitContext<S>) -> Result<(), HookError> {
        let tracker = &self.0;
        if tracker.io.set(cx.io.clone()).is_err() {
            return Err(HookError::new("the Admin UI is installed twice in one app"));
        }
        if cx.io.of(&tracker.settings.namespace).is_none() {
            return Err(HookError::new(format!(
                "the Admin UI namespace {} was not created",
                tracker.settings.namespace
            )));
        }
        let task = tokio::spawn(tracker.clone().run());
        *tracker.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
        tracing::info!(
            ns = %tracker.settings.namespace,
            server_id = %tracker.settings.server_id,
            "Admin UI namespace ready"
        );
        Ok(())
    }

    async fn on_connection(&self, socket: &SocketRef) {
        let tracker = &self.0;
        tracker.count("rawConnection", None);
        let view = tracker.view(socket);
        tracker
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (view.nsp.clone(), view.id.clone()),
                Known {
                    rooms: view.rooms.iter().cloned().collect(),
                    transport: view.transport,
                },
            );
        tracker
            .emit("socket_connected", &(&view, protocol::iso_now()))
            .await;
        if socket.ns() == tracker.settings.namespace {
            if let Some(NewSession(session)) = socket.extensions.get::<NewSession>() {
                let _ = socket.emit("session", &session);
            }
            let features = protocol::features(tracker.settings.readonly);
            let _ = socket.emit("config", &json!({ "supportedFeatures": features }));
            let all = tracker.all_sockets().await;
            let _ = socket.emit("all_sockets", &all);
        }
    }

    async fn on_disconnect(&self, socket: &SocketRef, reason: DisconnectReason) {
        let tracker = &self.0;
        let reason = reason.to_string();
        tracker.count("rawDisconnection", Some(reason.clone()));
        let key = (socket.ns().to_owned(), socket.id.to_string());
        tracker
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        tracker
            .emit(
                "socket_disconnected",
                &(key.0, key.1, reason, protocol::iso_now()),
            )
            .await;
    }

    async fn on_shutdown(&self, _io: &Io) {
        if let Some(task) = self.0.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}
