//! The server side of the official [Socket.IO Admin UI](https://socket.io/docs/v4/admin-ui/)
//! (`@socket.io/admin-ui` 0.5) for [iostack](https://docs.rs/iostack) apps, and its built UI served
//! from a local directory (no CDN).
//!
//! ```no_run
//! use iostack_admin_ui::{AdminAuth, AdminUi};
//! use iostack_core::App;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Hash once (e.g. with `AdminAuth::hash_password`) and keep the hash in your configuration.
//! let hash = std::env::var("ADMIN_UI_PASSWORD_HASH")?;
//! let admin = AdminUi::new(AdminAuth::basic("admin", hash)?); // namespace `/admin-ui`
//! let app = admin
//!     .install(App::builder(()))
//!     .build()
//!     .await?
//!     // The UI itself, from `npm install @socket.io/admin-ui`:
//!     .merge(iostack_admin_ui::ui_router(
//!         "/admin-ui",
//!         "node_modules/@socket.io/admin-ui/ui/dist",
//!     )?);
//! app.serve(iostack_core::bind("127.0.0.1:3000").await?).await?;
//! # Ok(()) }
//! ```
//! Open `http://127.0.0.1:3000/admin-ui/`, keep the server URL, and under *Advanced options* set the
//! namespace to `/admin-ui` (the UI's default is `/admin`), then log in.
//!
//! # What the UI gets
//! - `config` (the supported features), `session` after a login, and `all_sockets` on connection:
//!   this node's sockets with handshake headers (without `cookie` and `authorization`), address,
//!   transport and identity (as `data.user`), and the other nodes' sockets (id, namespace, rooms)
//!   through the adapter.
//! - `socket_connected` / `socket_disconnected` as they happen; `room_joined` / `room_left` and
//!   `socket_updated` (a transport upgrade) when found by comparing snapshots, at the latest one
//!   stats interval later, at once after an action of the UI.
//! - `server_stats` from every node each interval (2 s by default): clients, polling clients,
//!   namespaces with their socket counts, connections and disconnections per second.
//! - Actions (unless [`readonly`](AdminUi::readonly)): `join`, `leave`, `_disconnect` and `emit`
//!   (its first argument), on a namespace, a room or one socket, cluster-wide through the adapter.
//!   *Disconnect client* disconnects the socket it was clicked on; the client's sockets in other
//!   namespaces stay (Node closes the whole connection).
//!
//! The features announced are those of the official server in development mode, so the UI shows
//! its sockets, rooms, clients and events pages; the events page lists connections,
//! disconnections and room changes, but not each Socket.IO event (`event_received`, `event_sent`
//! are not reported).
//!
//! # Lifetime
//! The stats timer is a task started by the init hook and stopped by the shutdown hook
//! ([`App::serve`](iostack_core::App::serve) runs it); an app that is built but never served keeps
//! it until the runtime ends.
//!
//! # Security
//! The namespace is added with [`AppBuilder::public_namespace`]: the app's own connect stack (its
//! JWT auth, say) does not apply, [`AdminAuth`] does. Socket ids, which socketioxide uses as
//! session ids, are shown to the logged-in administrator, as the official server does.

mod actions;
mod auth;
mod protocol;
mod tracker;
mod ui;

use std::{sync::Arc, time::Duration};

use iostack_core::{AppBuilder, NamespaceBuilder, NamespaceSpec};
use tower::{filter::AsyncFilterLayer, layer::util::Stack};

pub use auth::{AdminAuth, AdminLogin, InvalidCredentials, InvalidPasswordHash};
pub use ui::{UiFiles, UiFilesError, ui_router};

use tracker::{Settings, Tracker, TrackerHooks};

/// The namespace the UI connects to unless told otherwise (the seed app already uses `/admin`).
pub const DEFAULT_NAMESPACE: &str = "/admin-ui";

/// The Admin UI's namespace and what it reports; add it to an app with [`AdminUi::install`].
#[derive(Debug, Clone)]
pub struct AdminUi {
    auth: AdminAuth,
    namespace: String,
    server_id: Option<String>,
    interval: Duration,
    readonly: bool,
}

impl AdminUi {
    /// The Admin UI behind `auth`, in namespace [`DEFAULT_NAMESPACE`].
    pub fn new(auth: AdminAuth) -> Self {
        Self {
            auth,
            namespace: DEFAULT_NAMESPACE.into(),
            server_id: None,
            interval: Duration::from_secs(2),
            readonly: false,
        }
    }

    /// The namespace the UI connects to (`/admin-ui` by default).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        self.namespace = if namespace.starts_with('/') {
            namespace
        } else {
            format!("/{namespace}")
        };
        self
    }

    /// How this node is named in the UI's server list (default: `hostname#pid`).
    pub fn server_id(mut self, server_id: impl Into<String>) -> Self {
        self.server_id = Some(server_id.into());
        self
    }

    /// How often `server_stats` is sent and rooms are compared (2 s by default, as in Node).
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(100));
        self
    }

    /// Shows the server without offering any action (join, leave, disconnect, emit).
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Adds the namespace (outside the app's stacks, behind [`AdminAuth`]), its action handlers and
    /// the hooks that report connections, to `builder`.
    pub fn install<S, CL, EL>(self, builder: AppBuilder<S, CL, EL>) -> AppBuilder<S, CL, EL>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.install_with(builder, |ns| ns)
    }

    /// [`install`](Self::install), with connect layers of your own in front of the login, e.g. an
    /// IP allowlist: `admin.install_with(builder, |ns| ns.on_connect(allowlist))`.
    pub fn install_with<S, CL, EL, F, CL2, EL2>(
        self,
        builder: AppBuilder<S, CL, EL>,
        configure: F,
    ) -> AppBuilder<S, CL, EL>
    where
        S: Clone + Send + Sync + 'static,
        F: FnOnce(NamespaceBuilder<S>) -> NamespaceBuilder<S, CL2, EL2>,
        NamespaceBuilder<S, Stack<AsyncFilterLayer<AdminLogin>, CL2>, EL2>:
            NamespaceSpec<S> + 'static,
    {
        if self.auth.is_disabled() {
            tracing::warn!(
                ns = %self.namespace,
                "Admin UI authentication is disabled: anyone reaching the namespace administers the server"
            );
        }
        let settings = Settings {
            namespace: self.namespace.clone(),
            server_id: self
                .server_id
                .unwrap_or_else(|| format!("{}#{}", tracker::hostname(), std::process::id())),
            interval: self.interval,
            readonly: self.readonly,
        };
        let tracker = Arc::new(Tracker::new(settings));
        let readonly = self.readonly;
        let login = auth::AdminLogin::layer(self.auth);
        let (on_join, on_leave) = (tracker.clone(), tracker.clone());
        builder
            .public_namespace(self.namespace, move |ns| {
                let ns = configure(ns).on_connect(login);
                if readonly {
                    return ns;
                }
                ns.on("join", move |io, data| {
                    actions::join(on_join.clone(), io, data)
                })
                .on("leave", move |io, data| {
                    actions::leave(on_leave.clone(), io, data)
                })
                .on("_disconnect", actions::disconnect)
                .on("emit", actions::emit)
            })
            .hooks(TrackerHooks(tracker))
    }
}
