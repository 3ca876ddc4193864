// The flagship example, every scenario, with the official socket.io-client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { startExample, connect, next, refusal, jwt, TRANSPORTS, WAIT_MS } from "./support.mjs";

const SECRET = "realtime-secret";
const MONITOR = "monitor-secret";
const now = () => Math.floor(Date.now() / 1000);
const token = (sub, extra = {}) => jwt(SECRET, { sub, username: `u${sub}`, roles: [], exp: now() + 3600, ...extra });
const env = () => ({
  JWT_SECRET: SECRET,
  MONITOR_TOKEN: MONITOR,
  DATABASE_URL: `sqlite://${path.join(tmpdir(), `iostack-realtime-${process.pid}-${Date.now()}.db`)}?mode=rwc`,
});

let server;
before(async () => {
  server = await startExample("realtime", env());
});
after(async () => {
  await server?.stop();
});

const as = (sub, opts = {}, extra = {}) => connect(server.url, { ...opts, auth: { token: token(sub, extra) } });

for (const transports of TRANSPORTS) {
  const via = transports[0];

  test(`identity, rooms from claims and exact refusals (${via})`, async () => {
    assert.equal(await refusal(server.url, { transports }), "Authentication required");
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

  test(`password channels with exact errors and notifications (${via})`, async () => {
    const [alice, bob] = await Promise.all([as(`a-${via}`, { transports }), as(`b-${via}`, { transports })]);
    try {
      const fail = (body) => alice.timeout(WAIT_MS).emitWithAck("join-channel", body);
      assert.deepEqual(await fail({ channelId: "nope" }), { error: { message: "Channel not found" } });
      assert.deepEqual(await fail({ channelId: "vip", password: "x" }), { error: { message: "Invalid password" } });
      const joined = next(alice, "channel:joined");
      const ok = await alice.timeout(WAIT_MS).emitWithAck("join-channel", { channelId: "vip", password: "vip-pass" });
      assert.equal(ok.ok, true);
      assert.equal((await joined)[0].channelId, "vip");
      const told = next(alice, "user:joined");
      await bob.timeout(WAIT_MS).emitWithAck("join-channel", { channelId: "vip", password: "vip-pass" });
      assert.deepEqual((await told)[0], { userId: `b-${via}`, username: `ub-${via}` });
    } finally {
      alice.close();
      bob.close();
    }
  });
}

test("admin broadcast reaches every namespace; non-admins are refused", async () => {
  assert.equal(
    await refusal(`${server.url}/admin`, { auth: { token: token("20") } }),
    "Admin access required",
  );
  const admin = await connect(`${server.url}/admin`, { auth: { token: token("1", { roles: ["admin"] }) } });
  const root = await as("21");
  const chat = await connect(`${server.url}/chat`, { auth: { token: token("22") } });
  try {
    const got = Promise.all([next(root, "admin:announcement"), next(chat, "admin:announcement")]);
    assert.deepEqual(await admin.timeout(WAIT_MS).emitWithAck("broadcast", "maintenance at 6"), { ok: true });
    for (const [note] of await got) assert.deepEqual(note, { message: "maintenance at 6", from: "1" });
  } finally {
    [admin, root, chat].forEach((s) => s.close());
  }
});

test("chat messages reach the other clients of /chat", async () => {
  const [a, b] = await Promise.all([1, 2].map((i) => connect(`${server.url}/chat`, { auth: { token: token(`c${i}`) } })));
  try {
    const got = next(b, "chat:message");
    a.emit("message", { text: "hello chat" });
    assert.deepEqual((await got)[0], { from: "c1", username: "uc1", text: "hello chat" });
  } finally {
    a.close();
    b.close();
  }
});

test("an admin kicks a user: kicked, then disconnected", async () => {
  const admin = await connect(`${server.url}/admin`, { auth: { token: token("1", { roles: ["admin"] }) } });
  const victim = await as("66");
  try {
    const kicked = next(victim, "kicked");
    const gone = next(victim, "disconnect");
    const reply = await admin.timeout(WAIT_MS).emitWithAck("kick", { userId: "66", reason: "spam" });
    assert.deepEqual(reply, { kicked: true });
    assert.deepEqual((await kicked)[0], { reason: "spam" });
    await gone;
  } finally {
    admin.close();
    victim.close();
  }
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

test("SIGTERM: every client is told, then disconnected, and the server exits cleanly", async () => {
  const own = await startExample("realtime", env());
  const clients = await Promise.all(
    Array.from({ length: 20 }, (_, i) => connect(own.url, { auth: { token: token(`s${i}`) } })),
  );
  const notices = clients.map((c) => next(c, "server:shutdown"));
  const gone = clients.map((c) => next(c, "disconnect"));
  const code = await own.stop();
  for (const notice of await Promise.all(notices)) {
    assert.deepEqual(notice[0], { message: "Server restarting", reconnectIn: 5000 });
  }
  await Promise.all(gone);
  assert.equal(code, 0);
});
