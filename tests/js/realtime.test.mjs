// The flagship example against the seed page's contract (the Strapi io plugin's lifecycle hooks),
// with the official socket.io-client: exact event names, payloads, messages and log lines.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startExample, connect, next, refusal, jwt, TRANSPORTS, WAIT_MS } from "./support.mjs";

const SECRET = "realtime-secret";
const MONITOR = "monitor-secret";
const now = () => Math.floor(Date.now() / 1000);
const token = (sub, extra = {}) => jwt(SECRET, { sub, username: `u${sub}`, roles: [], exp: now() + 3600, ...extra });
const adminToken = (sub = "1") => token(sub, { roles: ["admin"] });
let dbCount = 0;
const env = (extra = {}) => {
  const db = path.join(tmpdir(), `iostack-realtime-${process.pid}-${Date.now()}-${dbCount++}.db`);
  return {
    JWT_SECRET: SECRET,
    MONITOR_TOKEN: MONITOR,
    DATABASE_URL: `sqlite://${db}?mode=rwc`,
    CONNECTS_PER_MINUTE: "100000",
    ...extra,
  };
};
const dbFile = (vars) => vars.DATABASE_URL.replace(/^sqlite:\/\//, "").replace(/\?.*$/, "");

/** Runs `body` against a server of its own, stopped afterwards. */
async function withServer(vars, body) {
  const own = await startExample("realtime", vars);
  try {
    return await body(own);
  } finally {
    await own.stop();
  }
}

const RATE_LIMITED = { message: "Too many requests. Please slow down." };
const ROOT_ENV = env();
let server;
before(async () => {
  server = await startExample("realtime", ROOT_ENV);
});
after(async () => {
  await server?.stop();
});

const as = (sub, opts = {}, extra = {}) => connect(server.url, { ...opts, auth: { token: token(sub, extra) } });
const close = (...sockets) => sockets.forEach((s) => s?.close());

/** The arguments of every `event` on `socket` from now on. */
function record(socket, event) {
  const seen = [];
  socket.on(event, (...args) => seen.push(args));
  return seen;
}

/** Resolves once `socket` has received its own chat message back: everything queued before has arrived. */
async function roundTrip(chatSocket) {
  const marker = `marker-${Math.random()}`;
  const got = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no chat round trip")), WAIT_MS);
    const on = (data) => {
      if (data === marker) {
        clearTimeout(timer);
        chatSocket.off("message", on);
        resolve();
      }
    };
    chatSocket.on("message", on);
  });
  chatSocket.emit("message", marker);
  await got;
}

/** Sends `count` events and resolves with the first `error` event's payload. */
async function floodUntilRefused(socket, event, data, count = 120) {
  const refused = next(socket, "error");
  for (let i = 0; i < count; i++) socket.emit(event, data);
  return (await refused)[0];
}

for (const transports of TRANSPORTS) {
  const via = transports[0];

  test(`identity, rooms from claims, get-rooms and exact refusals (${via})`, async () => {
    assert.equal(await refusal(server.url, { transports }), "Authentication required");
    assert.equal(await refusal(server.url, { transports, auth: { token: "not.a.jwt" } }), "Invalid token");
    const socket = await as("10", { transports }, { roles: ["editor"], premium: true, country: "fr" });
    try {
      assert.equal((await socket.timeout(WAIT_MS).emitWithAck("whoami", null)).id, "10");
      const rooms = await socket.timeout(WAIT_MS).emitWithAck("get-rooms", null);
      assert.deepEqual(rooms, ["country-fr", "premium", "role-editor", "user-10"]);
      assert.deepEqual(await socket.timeout(WAIT_MS).emitWithAck("echo", { a: 1 }), { a: 1 });
    } finally {
      socket.close();
    }
  });

  test(`join-channel: seed payloads and exact error events (${via})`, async () => {
    await withServer(env(), async (own) => {
      const user = (sub, extra = {}) => connect(own.url, { transports, auth: { token: token(sub, extra) } });
      // A numeric user id stays a number on the wire.
      const [alice, bob, carol, dave] = await Promise.all([user("a"), user(123, { username: "bob" }), user("c"), user("d")]);
      try {
        const errorOf = async (socket, body) => {
          const error = next(socket, "error");
          socket.emit("join-channel", body);
          return (await error)[0];
        };
        assert.deepEqual(await errorOf(alice, { channelId: "nope" }), { message: "Channel not found" });
        assert.deepEqual(await errorOf(alice, { channelId: "vip", password: "x" }), { message: "Invalid password" });
        assert.deepEqual(await errorOf(alice, { channelId: "vip" }), { message: "Invalid password" });

        const joined = next(alice, "channel:joined");
        alice.emit("join-channel", { channelId: "vip", password: "vip-pass" });
        assert.deepEqual((await joined)[0], { channelId: "vip", members: 1 });

        const told = next(alice, "user:joined");
        const bobJoined = next(bob, "channel:joined");
        bob.emit("join-channel", { channelId: "vip", password: "vip-pass" });
        assert.deepEqual((await told)[0], { userId: 123, username: "bob" });
        assert.deepEqual((await bobJoined)[0], { channelId: "vip", members: 2 });

        const carolJoined = next(carol, "channel:joined");
        carol.emit("join-channel", { channelId: "vip", password: "vip-pass" });
        assert.deepEqual((await carolJoined)[0], { channelId: "vip", members: 3 });
        assert.deepEqual(await errorOf(dave, { channelId: "vip", password: "vip-pass" }), { message: "Channel is full" });

        // A numeric channel id is echoed as a number.
        const lobby = next(dave, "channel:joined");
        dave.emit("join-channel", { channelId: 1 });
        assert.deepEqual((await lobby)[0], { channelId: 1, members: 1 });

        // Ours: with an ack, the same outcome as an ack instead of the error event.
        assert.deepEqual(await dave.timeout(WAIT_MS).emitWithAck("join-channel", { channelId: "nope" }), {
          error: { message: "Channel not found" },
        });
        const ok = await dave.timeout(WAIT_MS).emitWithAck("join-channel", { channelId: "general" });
        assert.equal(ok.ok, true);
        assert.equal(ok.members, 1);
      } finally {
        close(alice, bob, carol, dave);
      }
    });
  });

  test(`/chat message: any data, unchanged, to every /chat client including the sender (${via})`, async () => {
    const from = server.output().length;
    const chat = (sub) => connect(`${server.url}/chat`, { transports, auth: { token: token(sub) } });
    const [a, b] = await Promise.all([chat(`ca-${via}`), chat(`cb-${via}`)]);
    const root = await as(`cr-${via}`, { transports });
    try {
      await server.waitForOutput(/\[io\] Chat user connected/, { from });
      const rootSaw = record(root, "message");
      const samples = [
        { text: "hello chat" },
        "plain text",
        42,
        [1, "two", { three: 3 }],
        null,
        { file: Buffer.from([1, 2, 3, 255]), name: "blob.bin", nested: { more: [Buffer.from("hi")] } },
      ];
      for (const data of samples) {
        const got = Promise.all([next(a, "message"), next(b, "message")]);
        a.emit("message", data);
        for (const args of await got) assert.deepEqual(args, [data]);
      }
      // Only the first argument is forwarded, as `socket.on('message', (data) => ...)` does.
      const got = Promise.all([next(a, "message"), next(b, "message")]);
      a.emit("message", "first", "second");
      for (const args of await got) assert.deepEqual(args, ["first"]);
      // Barrier on root itself: an ack asked for after a and b got the last message comes after
      // anything queued to root before (a /chat message sent there by mistake included).
      assert.equal(await root.timeout(WAIT_MS).emitWithAck("echo", "barrier"), "barrier");
      assert.deepEqual(rootSaw, [], "the main namespace does not get /chat messages");
    } finally {
      close(a, b, root);
    }
  });

  test(`/admin broadcast: data unchanged, to the main namespace only (${via})`, async () => {
    assert.equal(await refusal(`${server.url}/admin`, { transports, auth: { token: token("20") } }), "Admin access required");
    assert.equal(await refusal(`${server.url}/admin`, { transports }), "Admin access required");
    const from = server.output().length;
    const admin = await connect(`${server.url}/admin`, { transports, auth: { token: adminToken(`ad-${via}`) } });
    const root = await as(`r-${via}`, { transports });
    const chat = await connect(`${server.url}/chat`, { transports, auth: { token: token(`ch-${via}`) } });
    try {
      await server.waitForOutput(new RegExp(`\\[io\\] Admin connected: uad-${via}`), { from });
      const chatSaw = record(chat, "admin:announcement");
      const adminSaw = record(admin, "admin:announcement");
      for (const data of ["maintenance at 6", { level: "info", text: "hi", at: 1 }, [1, 2], { raw: Buffer.from([9, 8, 7]) }]) {
        const got = next(root, "admin:announcement");
        admin.emit("broadcast", data);
        assert.deepEqual(await got, [data]);
      }
      // Ours: an optional ack.
      const got = next(root, "admin:announcement");
      assert.deepEqual(await admin.timeout(WAIT_MS).emitWithAck("broadcast", "with ack"), { ok: true });
      assert.deepEqual(await got, ["with ack"]);
      // Barriers on the sockets checked: the ack above came on admin after the announcement was
      // sent out, and chat's own message comes back after any announcement queued to it.
      await roundTrip(chat);
      assert.deepEqual(chatSaw, [], "/chat does not get admin announcements");
      assert.deepEqual(adminSaw, [], "/admin does not get its own announcements");
    } finally {
      close(admin, root, chat);
    }
  });

  test(`rate limit: 100 events a minute per socket on every namespace, exact error and log (${via})`, async () => {
    const root = await as(`rl-${via}`, { transports });
    const chat = await connect(`${server.url}/chat`, { transports, auth: { token: token(`rlc-${via}`) } });
    const admin = await connect(`${server.url}/admin`, { transports, auth: { token: adminToken(`rla-${via}`) } });
    const acked = await as(`rlk-${via}`, { transports });
    try {
      const from = server.output().length;
      assert.deepEqual(await floodUntilRefused(root, "echo", 1), RATE_LIMITED);
      await server.waitForOutput(new RegExp(`WARN.*\\[io\\] Rate limit exceeded: ${root.id}`), { from });
      assert.deepEqual(await floodUntilRefused(chat, "message", "x"), RATE_LIMITED);
      await server.waitForOutput(new RegExp(`\\[io\\] Rate limit exceeded: ${chat.id}`), { from });
      assert.deepEqual(await floodUntilRefused(admin, "kick", { userId: "nobody" }), RATE_LIMITED);
      await server.waitForOutput(new RegExp(`\\[io\\] Rate limit exceeded: ${admin.id}`), { from });
      // Ours: a client that asked for acks reads the same message in the refused events' acks.
      const replies = await Promise.all(
        Array.from({ length: 120 }, (_, i) => acked.timeout(WAIT_MS).emitWithAck("echo", i)),
      );
      const refused = replies.filter((r) => typeof r === "object" && r !== null);
      assert.ok(refused.length > 0, "some events were refused");
      for (const reply of refused) assert.deepEqual(reply, { error: RATE_LIMITED });
      assert.deepEqual(replies.slice(0, 100), Array.from({ length: 100 }, (_, i) => i), "the first 100 pass");
    } finally {
      close(root, chat, admin, acked);
    }
  });

  test(`kickUser(123, 'Violation of terms'): numeric id, kicked {reason}, then disconnect (${via})`, async () => {
    const admin = await connect(`${server.url}/admin`, { transports, auth: { token: adminToken(`k-${via}`) } });
    const id = via === "websocket" ? 123 : 124;
    const victim = await connect(server.url, { transports, auth: { token: token(id) } });
    const victimChat = await connect(`${server.url}/chat`, { transports, auth: { token: token(id) } });
    try {
      const kicked = [next(victim, "kicked"), next(victimChat, "kicked")];
      const gone = [next(victim, "disconnect"), next(victimChat, "disconnect")];
      const reply = await admin.timeout(WAIT_MS).emitWithAck("kick", { userId: id, reason: "Violation of terms" });
      assert.deepEqual(reply, { kicked: true });
      for (const args of await Promise.all(kicked)) assert.deepEqual(args, [{ reason: "Violation of terms" }]);
      await Promise.all(gone);
    } finally {
      close(admin, victim, victimChat);
    }
  });
}

test("errors are `error` events with exactly {message}", async () => {
  const socket = await as("e1");
  try {
    const error = next(socket, "error");
    socket.emit("no-such-event", 1);
    assert.deepEqual((await error)[0], { message: "Unknown event `no-such-event`" });
  } finally {
    socket.close();
  }
});

test("log lines: Connection attempt, User joined rooms, Session ended", async () => {
  const from = server.output().length;
  const socket = await connect(server.url, {
    auth: { token: token("log1", { premium: true, country: "de" }) },
    extraHeaders: { "user-agent": "iostack-js-test" },
    transports: ["websocket"],
  });
  const id = socket.id;
  const [, attempt] = await server.waitForOutput(new RegExp(`Connection attempt: (\\{[^\\n]*?"socketId":"${id}"[^\\n]*?\\})`), { from });
  const info = JSON.parse(attempt);
  assert.deepEqual(Object.keys(info).sort(), ["ip", "socketId", "timestamp", "userAgent"]);
  assert.equal(info.ip, "127.0.0.1");
  assert.equal(info.userAgent, "iostack-js-test");
  assert.match(info.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(new Date(info.timestamp).toISOString(), info.timestamp);
  await server.waitForOutput(/User ulog1 joined rooms: \["country-de","premium","user-log1"\]/, { from });
  socket.close();
  await server.waitForOutput(new RegExp(`Session ended: ${id} \\(\\d+ms\\)`), { from });
});

test("IP allowlist: refused with `IP not whitelisted`, logged as Blocked connection from <ip>", async () => {
  await withServer(env({ IP_ALLOWLIST: "10.1.2.3" }), async (own) => {
    for (const ns of ["", "/chat", "/admin"]) {
      assert.equal(await refusal(`${own.url}${ns}`, { auth: { token: adminToken() } }), "IP not whitelisted");
    }
    await own.waitForOutput(/WARN.*Blocked connection from 127\.0\.0\.1/);
  });
});

test("connection log: a row on connect, disconnectedAt and duration on disconnect, in every namespace", async () => {
  try {
    execFileSync("sqlite3", ["-version"]);
  } catch {
    throw new Error("the sqlite3 command is missing: scripts/test.sh installs it (apt package sqlite3)");
  }
  const query = (sql) => JSON.parse(execFileSync("sqlite3", ["-readonly", "-json", "-cmd", ".timeout 5000", dbFile(ROOT_ENV), sql]).toString() || "[]");
  const rowsOf = (ids) =>
    query(
      `SELECT socket_id, ns, user_id, connected_at, disconnected_at, duration_ms FROM connection_log WHERE socket_id IN (${ids
        .map((id) => `'${id}'`)
        .join(",")})`,
    );
  // The rows are written by the server after the fact: check again until they are (bounded).
  const until = async (ids, done) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const rows = rowsOf(ids);
      if (done(rows)) return rows;
      if (Date.now() > deadline) assert.fail(`connection log rows never complete: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const root = await as("dbu", {}, { roles: ["admin"] });
  const chat = await connect(`${server.url}/chat`, { auth: { token: token("dbu", { roles: ["admin"] }) } });
  const admin = await connect(`${server.url}/admin`, { auth: { token: token("dbu", { roles: ["admin"] }) } });
  const ids = [root.id, chat.id, admin.id];
  const open = await until(ids, (rows) => rows.length === 3);
  assert.deepEqual(open.map((r) => r.ns).sort(), ["/", "/admin", "/chat"]);
  for (const row of open) assert.equal(row.user_id, "dbu");
  const from = server.output().length;
  close(root, chat, admin);
  for (const id of ids) await server.waitForOutput(new RegExp(`Session ended: ${id} `), { from });
  const ended = await until(ids, (rows) => rows.length === 3 && rows.every((r) => r.duration_ms !== null));
  for (const row of ended) {
    assert.ok(row.disconnected_at >= row.connected_at, JSON.stringify(row));
    // Both in whole milliseconds, truncated separately: they agree within one.
    assert.ok(Math.abs(row.duration_ms - (row.disconnected_at - row.connected_at)) <= 1, JSON.stringify(row));
  }
});

test("periodic logs: Active connections every interval, Event statistics sorted then reset", async () => {
  await withServer(env({ ACTIVE_CONNECTIONS_INTERVAL_MS: "100", EVENT_STATS_INTERVAL_MS: "300" }), async (own) => {
    const user = (sub, ns = "") => connect(`${own.url}${ns}`, { auth: { token: token(sub) } });
    const [a, b, c] = await Promise.all([user("p1"), user("p2"), user("p3", "/chat")]);
    try {
      // The main namespace's sockets, as the page's `connections` map counts them.
      await own.waitForOutput(/\[io\] Active connections: 2\b/);
      const from = own.output().length;
      for (let i = 0; i < 3; i++) await a.timeout(WAIT_MS).emitWithAck("echo", i);
      await b.timeout(WAIT_MS).emitWithAck("whoami", null);
      // Every event is counted once acked; each report after this point includes what was left,
      // and an empty report shows that the counts were reset after the one that had them.
      await own.waitForOutput(/Event statistics: \[\] total=0/, { from: own.output().length });
      const reports = [...own.output().slice(from).matchAll(/Event statistics: (\[[^\n]*?\]) total=/g)].map((m) => JSON.parse(m[1]));
      const totals = {};
      for (const report of reports) {
        for (const { event, count } of report) totals[event] = (totals[event] ?? 0) + count;
        const counts = report.map((e) => e.count);
        assert.deepEqual(counts, [...counts].sort((x, y) => y - x), "sorted by count, most frequent first");
      }
      assert.deepEqual(totals, { echo: 3, whoami: 1 });
      const whole = reports.find((r) => r.length === 2);
      if (whole) assert.deepEqual(whole, [{ event: "echo", count: 3 }, { event: "whoami", count: 1 }]);
      const fromClose = own.output().length;
      b.close();
      await own.waitForOutput(/\[io\] Active connections: 1\b/, { from: fromClose });
    } finally {
      close(a, b, c);
    }
  });
});

test("monitoring is guarded and counts connections and events", async () => {
  const socket = await as("30");
  try {
    await socket.timeout(WAIT_MS).emitWithAck("echo", 1);
    assert.equal((await fetch(`${server.url}/stats`)).status, 401);
    const stats = await (await fetch(`${server.url}/stats`, { headers: { authorization: `Bearer ${MONITOR}` } })).json();
    assert.ok(stats.connections.count >= 1);
    assert.ok(stats.events.counts.some((c) => c.event === "echo"));
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${MONITOR}` } })).text();
    assert.match(metrics, /^iostack_events_total\{event="echo"\} \d+$/m);
  } finally {
    socket.close();
  }
});

test("SIGTERM: server:shutdown {message: 'Server is restarting', reconnectIn: 5000} on both transports, then disconnect", async () => {
  const own = await startExample("realtime", env());
  const clients = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      connect(own.url, { transports: TRANSPORTS[i % 2], auth: { token: token(`s${i}`) } }),
    ),
  );
  const notices = clients.map((c) => next(c, "server:shutdown"));
  const gone = clients.map((c) => next(c, "disconnect"));
  const code = await own.stop();
  for (const notice of await Promise.all(notices)) {
    assert.deepEqual(notice, [{ message: "Server is restarting", reconnectIn: 5000 }]);
  }
  await Promise.all(gone);
  assert.equal(code, 0);
  assert.match(own.output(), /Received SIGTERM, closing connections\.\.\./);
  assert.match(own.output(), /Closed 20 connections/);
});

// A second, independent client: the official Python `python-socketio` client (in `.venv`, or
// `IOSTACK_PYTHON`), driven by tests/python/realtime_client.py; scripts/test.sh installs it, and
// the tests fail, never skip, when it is missing.
const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.IOSTACK_PYTHON ?? path.resolve(here, "../../.venv/bin/python");
const PY_CLIENT = path.resolve(here, "../python/realtime_client.py");
const hasPythonClient = (() => {
  try {
    execFileSync(PYTHON, ["-c", "import socketio"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const pyTokens = () =>
  JSON.stringify({
    user: token("py-user"),
    alice: token("alice"),
    bob: token(123, { username: "bob" }),
    carol: token("carol"),
    victim: token(123456),
    flood: token("flood"),
    admin: adminToken("py-admin"),
  });

/** Runs the Python client in `mode`; resolves with { code, stdout, stderr }, kills it after 60 s. */
function runPython(mode, vars, onStdout = () => {}) {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [PY_CLIENT, mode], { env: { ...process.env, ...vars }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60000);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      onStdout(stdout);
    });
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}

for (const transports of TRANSPORTS) {
  const via = transports[0];
  test(`python-socketio client: the seed contract (${via})`, async () => {
    assert.ok(hasPythonClient, `python-socketio is missing for ${PYTHON}: run scripts/test.sh (it installs tests/python/requirements.txt into .venv)`);
    await withServer(env(), async (own) => {
      const run = await runPython("contract", { URL: own.url, TRANSPORT: via, TOKENS: pyTokens() });
      assert.equal(run.code, 0, `python client failed:\n${run.stderr}\n${run.stdout}`);
      assert.match(run.stdout, /contract ok/);
    });
  });

  test(`python-socketio client: server:shutdown on SIGTERM (${via})`, async () => {
    assert.ok(hasPythonClient, `python-socketio is missing for ${PYTHON}: run scripts/test.sh (it installs tests/python/requirements.txt into .venv)`);
    const own = await startExample("realtime", env());
    let stopped;
    const run = await runPython("shutdown", { URL: own.url, TRANSPORT: via, TOKENS: pyTokens() }, (out) => {
      if (!stopped && out.includes("ready")) stopped = own.stop();
    });
    assert.equal(run.code, 0, `python client failed:\n${run.stderr}\n${run.stdout}`);
    assert.equal(await stopped, 0);
    const notice = JSON.parse(run.stdout.trim().split("\n").pop());
    assert.deepEqual(notice, [{ message: "Server is restarting", reconnectIn: 5000 }]);
  });
}
