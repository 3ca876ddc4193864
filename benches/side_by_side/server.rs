//! The servers under test, each a fresh child process pinned to CPU 0: Node socket.io from
//! `benches/node`, or this bench binary started again in server mode for the Rust variants.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::servers;

/// Set in a child process: the Rust variant it serves.
const SERVER_ENV: &str = "IOSTACK_BENCH_SERVER";

/// One server implementation of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Node,
    Bare,
    Iostack,
    IostackFiveLayers,
}

impl Variant {
    pub(crate) const ALL: [Variant; 4] = [
        Variant::Node,
        Variant::Bare,
        Variant::Iostack,
        Variant::IostackFiveLayers,
    ];

    /// The column heading of the results table.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Variant::Node => "Node socket.io 4.8",
            Variant::Bare => "bare socketioxide 0.18",
            Variant::Iostack => "iostack (no layers)",
            Variant::IostackFiveLayers => "iostack (5 layers)",
        }
    }

    fn env_value(self) -> &'static str {
        match self {
            Variant::Node => "node",
            Variant::Bare => "bare",
            Variant::Iostack => "iostack",
            Variant::IostackFiveLayers => "iostack-five-layers",
        }
    }

    /// Whether clients must send a JWT in the handshake.
    pub(crate) fn needs_auth(self) -> bool {
        self == Variant::IostackFiveLayers
    }

    /// Whether the server answers `dropped` with the messages it counted as refused.
    pub(crate) fn counts_drops(self) -> bool {
        matches!(self, Variant::Iostack | Variant::IostackFiveLayers)
    }
}

/// A running server process; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// Starts `variant` and waits for the address it listens on.
    pub(crate) fn start(variant: Variant) -> Self {
        if variant != Variant::Node {
            return Self::start_rust(variant.env_value());
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/node");
        assert!(
            dir.join("node_modules/socket.io").is_dir(),
            "socket.io is not installed in {}: run `bash scripts/bench.sh`, or `npm ci` there",
            dir.display()
        );
        let mut command = pinned_to(0);
        command.arg("node").arg(dir.join("server.mjs"));
        Self::spawn(command, "node")
    }

    /// Starts this binary as the Rust server `name` (a [`Variant`]'s, or `layer-<name>` for the
    /// app with one middleware layer).
    pub(crate) fn start_rust(name: &str) -> Self {
        Self::start_rust_from(&std::env::current_exe().expect("own path"), name)
    }

    /// Starts the bench binary `exe` (this one, or another build of it) as the Rust server `name`.
    pub(crate) fn start_rust_from(exe: &Path, name: &str) -> Self {
        let mut command = pinned_to(0);
        command.arg(exe).env(SERVER_ENV, name);
        Self::spawn(command, name)
    }

    fn spawn(mut command: Command, name: &str) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("address line");
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output of the {name} server: {line:?}"));
        Self { child, addr }
    }

    /// CPU time the server's threads have run so far, in nanoseconds (`/proc/<pid>/task/*/schedstat`;
    /// the server's runtime keeps its threads for its whole life).
    pub(crate) fn cpu_ns(&self) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .expect("/proc tasks of the server");
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// The server's resident set, in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status of the server");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command that runs its program on CPU `cpu` only (when `taskset` is there and the machine has
/// more than one CPU), so that server and load generator do not share a core.
fn pinned_to(cpu: usize) -> Command {
    if can_pin() {
        let mut command = Command::new("taskset");
        command.args(["-c", &cpu.to_string()]);
        command
    } else {
        Command::new("env")
    }
}

/// Whether pinning is possible here, found out once per run.
fn can_pin() -> bool {
    static CAN_PIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAN_PIN.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus > 1
            && Command::new("taskset")
                .arg("-V")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// Pins this process (the load generator, and every thread it starts later) to CPU 1.
pub(crate) fn pin_generator() -> bool {
    can_pin()
        && Command::new("taskset")
            .args(["-a", "-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Sets this process's soft open-file limit to `files`, for itself and the servers it starts
/// afterwards; panics saying what to do when the hard limit is lower.
pub(crate) fn allow_open_files(files: usize) {
    let set = Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={files}:"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        set,
        "this run needs {files} open files per process: raise the hard limit (`ulimit -Hn`, needs \
         CAP_SYS_RESOURCE) or ask for fewer connections"
    );
}

/// In a child started by [`Server::start`]: serves the variant it names and never returns.
/// Returns `false` in the parent.
pub(crate) fn serve_if_child() -> bool {
    let Ok(variant) = std::env::var(SERVER_ENV) else {
        return false;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = iostack::bind("127.0.0.1:0").await.expect("bind");
        println!("listening {}", listener.local_addr().expect("address"));
        let app = match variant.as_str() {
            "bare" => {
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                return axum::serve(listener, servers::bare_router())
                    .await
                    .expect("serve");
            }
            "iostack" => servers::no_layers().await,
            "iostack-wait" => servers::no_layers_waiting().await,
            "iostack-disconnect" => servers::no_layers_disconnecting().await,
            name if name.starts_with("layer-") => servers::one_layer(&name["layer-".len()..]).await,
            _ => servers::five_layers().await,
        };
        app.serve_with_shutdown(listener, std::future::pending())
            .await
            .expect("serve");
    });
    true
}
