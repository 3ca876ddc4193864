//! [`Presence`]: who is online, cluster-wide, and who views which entry.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::Duration,
};

use iostack_core::{
    AnyAdapter, HookError, HookRoutes, Hooks, Identity, InitContext, Io,
    extract::{DisconnectReason, SocketRef},
    rooms::user_room,
    socketioxide::operators::BroadcastOperators,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::{sync::Notify, task::JoinHandle};

use crate::{
    PresenceError,
    rooms::{
        PRESENCE_ROOM, entry_room, parse_tab_room, parse_viewer_room, scope_room, tab_room,
        viewer_room,
    },
    sweep::{self, Snapshot},
    viewing::ViewerTable,
};

/// Locks serialising presence decisions, by user id.
const STRIPES: usize = 64;

/// Event sent to presence subscribers when a user's first socket in the cluster connects.
pub const ONLINE_EVENT: &str = "presence:online";
/// Event sent to presence subscribers when a user's last socket in the cluster is gone.
pub const OFFLINE_EVENT: &str = "presence:offline";
/// Event sent to an entry's subscribers when its viewers change.
pub const VIEWING_EVENT: &str = "presence:viewing";

/// A user who has at least one connected socket somewhere in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    /// The identity's id.
    pub user_id: String,
    /// The identity's display name, when it has one.
    pub username: Option<String>,
}

/// Presence hooks: register with [`AppBuilder::hooks`](iostack_core::AppBuilder::hooks) and keep
/// a clone to ask who is online. See the [crate docs](crate) for the events clients use.
pub struct Presence {
    inner: Arc<Inner>,
}

impl Clone for Presence {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner {
    node: String,
    ns: String,
    heartbeat: Duration,
    io: OnceLock<Io>,
    /// Sockets of each user on this node.
    local: Mutex<HashMap<String, usize>>,
    /// Serialise the online/offline decisions of one user on this node (striped by user id, so
    /// users do not wait for each other's cluster requests).
    transitions: Vec<tokio::sync::Mutex<()>>,
    viewers: Mutex<ViewerTable>,
    viewers_changed: Notify,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Default for Presence {
    fn default() -> Self {
        Self::new()
    }
}

impl Presence {
    /// Presence in namespace `/`, with a 5 s heartbeat and views idle after 30 s.
    pub fn new() -> Self {
        Self::build("/".into(), Duration::from_secs(5), Duration::from_secs(30))
    }

    fn build(ns: String, heartbeat: Duration, idle: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                node: node_id(),
                ns,
                heartbeat,
                io: OnceLock::new(),
                local: Mutex::default(),
                transitions: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
                viewers: Mutex::new(ViewerTable::new(idle)),
                viewers_changed: Notify::new(),
                tasks: Mutex::default(),
            }),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut String, &mut Duration, &mut Duration)) -> Self {
        let mut ns = self.inner.ns.clone();
        let mut heartbeat = self.inner.heartbeat;
        let mut idle = lock(&self.inner.viewers).idle();
        f(&mut ns, &mut heartbeat, &mut idle);
        Self::build(ns, heartbeat, idle)
    }

    /// Tracks the sockets of namespace `ns` instead of `/`.
    pub fn namespace(self, ns: impl Into<String>) -> Self {
        let ns = ns.into();
        self.rebuild(|n, _, _| *n = ns)
    }

    /// How often each node lists the cluster: a dead node's users go offline within one
    /// heartbeat plus the adapter's request timeout.
    pub fn heartbeat(self, every: Duration) -> Self {
        self.rebuild(|_, h, _| *h = every)
    }

    /// How long a view lasts without a new `presence:view` from its socket.
    pub fn idle_after(self, idle: Duration) -> Self {
        self.rebuild(|_, _, i| *i = idle)
    }

    /// This node's id, as it appears in presence rooms.
    pub fn node_id(&self) -> &str {
        &self.inner.node
    }

    fn ops(&self) -> Result<BroadcastOperators<AnyAdapter>, PresenceError> {
        let io = self.inner.io.get().ok_or(PresenceError::NotStarted)?;
        io.of(&self.inner.ns)
            .ok_or_else(|| PresenceError::UnknownNamespace(self.inner.ns.clone()))
    }

    async fn snapshot(
        &self,
    ) -> Result<(Snapshot, BTreeMap<String, Option<String>>), PresenceError> {
        let rooms = self.ops()?.rooms().await.map_err(PresenceError::adapter)?;
        let mut nodes = Snapshot::new();
        let mut names = BTreeMap::new();
        for (node, user, name) in rooms.iter().filter_map(|r| parse_tab_room(r)) {
            nodes.entry(user.clone()).or_default().insert(node);
            let known: &mut Option<String> = names.entry(user).or_default();
            if known.is_none() {
                *known = name;
            }
        }
        Ok((nodes, names))
    }

    /// The users online anywhere in the cluster, sorted by id.
    pub async fn online(&self) -> Result<Vec<OnlineUser>, PresenceError> {
        let (_, names) = self.snapshot().await?;
        Ok(names
            .into_iter()
            .map(|(user_id, username)| OnlineUser { user_id, username })
            .collect())
    }

    /// The ids of the users viewing `entry` anywhere in the cluster, sorted.
    pub async fn viewers(&self, entry: &str) -> Result<Vec<String>, PresenceError> {
        let rooms = self.ops()?.rooms().await.map_err(PresenceError::adapter)?;
        let mut users: Vec<String> = rooms
            .iter()
            .filter_map(|r| parse_viewer_room(r))
            .filter(|(e, _)| e == entry)
            .map(|(_, user)| user)
            .collect();
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// Sends `event` to the app-wide subscribers and to the subscribers of each of `rooms`.
    async fn announce(&self, event: &str, rooms: Vec<String>, payload: serde_json::Value) {
        let Ok(ops) = self.ops() else { return };
        let mut targets = vec![PRESENCE_ROOM.to_owned()];
        targets.extend(rooms.iter().map(|r| scope_room(r)));
        if let Err(e) = ops.to(targets).emit(event, &payload).await {
            tracing::warn!(event, "presence event not delivered: {e}");
        }
    }

    async fn broadcast_viewers(&self, entry: &str) {
        let users = match self.viewers(entry).await {
            Ok(users) => users,
            Err(e) => return tracing::warn!("presence: viewers of {entry} unknown: {e}"),
        };
        let Ok(ops) = self.ops() else { return };
        let payload = json!({ "entry": entry, "users": users });
        if let Err(e) = ops
            .to(entry_room(entry))
            .emit(VIEWING_EVENT, &payload)
            .await
        {
            tracing::warn!("presence:viewing not delivered: {e}");
        }
    }

    /// Sockets of `user` in this namespace anywhere in the cluster, this socket excepted.
    async fn others(&self, user: &str, except: &SocketRef) -> Result<usize, PresenceError> {
        let sockets = self
            .ops()?
            .within(user_room(user))
            .fetch_sockets()
            .await
            .map_err(PresenceError::adapter)?;
        Ok(sockets.iter().filter(|s| s.data().id != except.id).count())
    }

    async fn turn(&self, user: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(user);
        self.inner.transitions[(hash % STRIPES as u64) as usize]
            .lock()
            .await
    }

    async fn connected(&self, socket: &SocketRef, identity: Identity) {
        let _turn = self.turn(&identity.id).await;
        let room = tab_room(&self.inner.node, &identity.id, identity.username.as_deref());
        socket.join(room);
        let first_here = {
            let mut local = lock(&self.inner.local);
            let count = local.entry(identity.id.clone()).or_default();
            *count += 1;
            *count == 1
        };
        if !first_here {
            return;
        }
        match self.others(&identity.id, socket).await {
            Ok(0) => {
                let user = OnlineUser {
                    user_id: identity.id.clone(),
                    username: identity.username.clone(),
                };
                self.announce(ONLINE_EVENT, member_rooms(socket), json!(user))
                    .await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("presence: cannot tell whether {} is new: {e}", identity.id),
        }
    }

    async fn disconnected(&self, socket: &SocketRef, identity: Identity) {
        let rooms = member_rooms(socket);
        let entries = lock(&self.inner.viewers).remove_socket(socket.id.as_str());
        for entry in &entries {
            socket.leave(viewer_room(entry, &identity.id));
            self.broadcast_viewers(entry).await;
        }
        let _turn = self.turn(&identity.id).await;
        socket.leave(tab_room(
            &self.inner.node,
            &identity.id,
            identity.username.as_deref(),
        ));
        let last_here = {
            let mut local = lock(&self.inner.local);
            match local.get_mut(&identity.id) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    local.remove(&identity.id);
                    true
                }
                None => false,
            }
        };
        if last_here && matches!(self.others(&identity.id, socket).await, Ok(0)) {
            let payload = json!({ "userId": identity.id });
            self.announce(OFFLINE_EVENT, rooms, payload).await;
        }
    }

    async fn view(&self, socket: &SocketRef, entry: String) -> Result<(), PresenceError> {
        let user = socket
            .extensions
            .get::<Identity>()
            .ok_or(PresenceError::Unauthenticated)?;
        socket.join(vec![entry_room(&entry), viewer_room(&entry, &user.id)]);
        let new = lock(&self.inner.viewers).touch(socket.id.as_str(), &entry);
        self.inner.viewers_changed.notify_one();
        if new {
            self.broadcast_viewers(&entry).await;
        }
        Ok(())
    }

    async fn unview(&self, socket: &SocketRef, entry: &str) {
        let Some(user) = socket.extensions.get::<Identity>() else {
            return;
        };
        if lock(&self.inner.viewers).remove(socket.id.as_str(), entry) {
            socket.leave(viewer_room(entry, &user.id));
            self.broadcast_viewers(entry).await;
        }
    }

    /// Ends views whose idle time passed, then sleeps until the next one ends.
    async fn expire_views(self) {
        loop {
            let (expired, next) = {
                let mut table = lock(&self.inner.viewers);
                (table.expire(), table.next_deadline())
            };
            for (sid, entry) in expired {
                let socket = self
                    .ops()
                    .ok()
                    .and_then(|ops| ops.get_socket(sid.parse().ok()?));
                if let Some(socket) = socket
                    && let Some(user) = socket.extensions.get::<Identity>()
                {
                    socket.leave(viewer_room(&entry, &user.id));
                }
                self.broadcast_viewers(&entry).await;
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.inner.viewers_changed.notified() => {}
                    }
                }
                None => self.inner.viewers_changed.notified().await,
            }
        }
    }

    async fn sweep(self) {
        let me = self.inner.node.clone();
        let lister = self.clone();
        let announcer = self.clone();
        sweep::run(
            me,
            self.inner.heartbeat,
            move || {
                let p = lister.clone();
                async move {
                    Some(
                        p.snapshot()
                            .await
                            .map(|(s, _)| s)
                            .map_err(|e| e.to_string()),
                    )
                }
            },
            move |user| {
                let p = announcer.clone();
                async move {
                    tracing::info!(user, "presence: user's node stopped answering");
                    p.announce(OFFLINE_EVENT, Vec::new(), json!({ "userId": user }))
                        .await;
                }
            },
        )
        .await;
    }

    fn stop_tasks(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
    }
}

#[async_trait::async_trait]
impl<S> Hooks<S> for Presence
where
    S: Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "presence"
    }

    fn routes(self: Arc<Self>, routes: &mut HookRoutes<S>) {
        crate::presence_routes::add(&self, routes);
    }

    async fn init(&self, cx: &mut InitContext<S>) -> Result<(), HookError> {
        if cx.io.of(&self.inner.ns).is_none() {
            return Err(HookError::new(PresenceError::UnknownNamespace(
                self.inner.ns.clone(),
            )));
        }
        let _ = self.inner.io.set(cx.io.clone());
        let mut tasks = lock(&self.inner.tasks);
        tasks.push(tokio::spawn(self.clone().sweep()));
        tasks.push(tokio::spawn(self.clone().expire_views()));
        Ok(())
    }

    async fn on_connection(&self, socket: &SocketRef) {
        if socket.ns() == self.inner.ns
            && let Some(identity) = socket.extensions.get::<Identity>()
        {
            self.connected(socket, identity).await;
        }
    }

    async fn on_disconnect(&self, socket: &SocketRef, _reason: DisconnectReason) {
        if socket.ns() == self.inner.ns
            && let Some(identity) = socket.extensions.get::<Identity>()
        {
            self.disconnected(socket, identity).await;
        }
    }

    async fn on_stopped(&self, _io: &Io) {
        self.stop_tasks();
    }
}

impl Presence {
    pub(crate) async fn handle_view(
        &self,
        socket: &SocketRef,
        entry: String,
    ) -> Result<serde_json::Value, PresenceError> {
        self.view(socket, entry.clone()).await?;
        let users = self.viewers(&entry).await?;
        Ok(json!({ "entry": entry, "users": users }))
    }

    pub(crate) async fn handle_leave(&self, socket: &SocketRef, entry: &str) {
        self.unview(socket, entry).await;
    }

    pub(crate) fn namespace_path(&self) -> &str {
        &self.inner.ns
    }
}

/// The rooms of `socket` whose presence scopes hear about its user (not this crate's own rooms).
fn member_rooms(socket: &SocketRef) -> Vec<String> {
    socket
        .rooms()
        .into_iter()
        .map(|r| r.to_string())
        .filter(|r| !crate::rooms::is_internal(r))
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A node id unique enough to tell nodes apart: time, process id and a hash seed.
fn node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
