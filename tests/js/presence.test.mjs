// The presence example driven by the official socket.io-client: presence counted once over tabs,
// subscriptions that hear exactly the matching changes, fields and entries hidden per subscriber,
// permission changes mid-connection, and the same presence across two Redis nodes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { startExample, connect, next, jwt, WAIT_MS } from "./support.mjs";

const SECRET = "js-presence-secret";
const token = (sub, role) =>
  jwt(SECRET, { sub, username: `u${sub}`, roles: role ? [role] : [], exp: Math.floor(Date.now() / 1000) + 3600 });

let server;
before(async () => {
  server = await startExample("presence", { JWT_SECRET: SECRET });
});
after(async () => {
  await server?.stop();
});

/** A client of user `sub` with `role` on `url`; `seen` holds every event it receives, in order. */
async function client(url, sub, role) {
  const socket = await connect(url, { transports: ["websocket"], auth: { token: token(sub, role) } });
  const seen = [];
  socket.onAny((event, payload) => seen.push([event, payload]));
  return { socket, seen };
}

async function call(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Waits until `predicate` holds, polling `seen` on each event; fails after `timeout` ms. */
function until(socket, predicate, timeout = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) {
        clearTimeout(timer);
        socket.offAny(check);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      socket.offAny(check);
      reject(new Error(`condition not met within ${timeout} ms`));
    }, timeout);
    socket.onAny(() => setImmediate(check));
    check();
  });
}

/** Emits with an ack, failing after WAIT_MS. */
const ask = (socket, event, ...args) => socket.timeout(WAIT_MS).emitWithAck(event, ...args);
const quiet = (ms) => new Promise((r) => setTimeout(r, ms));
const named = (seen, event) => seen.filter(([e]) => e === event).map(([, p]) => p);

test("several tabs count once and the user goes offline after the last tab", async () => {
  const watcher = await client(server.url, "w1");
  const tabs = [];
  try {
    const listed = await ask(watcher.socket, "presence:subscribe", {});
    assert.ok(listed.some((u) => u.userId === "w1"));
    tabs.push(await client(server.url, "7"));
    await until(watcher.socket, () => named(watcher.seen, "presence:online").length === 1);
    tabs.push(await client(server.url, "7"));
    // Barriers: tab 2's connection hooks ran before its first event, then the watcher's ack comes
    // after anything sent to it before.
    await ask(tabs[1].socket, "presence:list");
    await ask(watcher.socket, "presence:list");
    assert.deepEqual(named(watcher.seen, "presence:online"), [{ userId: "7", username: "u7" }]);

    tabs[0].socket.close();
    await quiet(300); // nothing to await: checks that no offline arrives
    assert.deepEqual(named(watcher.seen, "presence:offline"), []);
    const users = await ask(watcher.socket, "presence:list");
    assert.ok(users.some((u) => u.userId === "7"), JSON.stringify(users));

    const offline = next(watcher.socket, "presence:offline");
    tabs[1].socket.close();
    assert.deepEqual(await offline, [{ userId: "7" }]);
  } finally {
    for (const c of [watcher, ...tabs]) c.socket.close();
  }
});

test("viewers of an entry are shared, and leave", async () => {
  const ada = await client(server.url, "21");
  const bob = await client(server.url, "22");
  try {
    assert.deepEqual(await ask(ada.socket, "presence:view", { entry: "article:9" }), {
      entry: "article:9",
      users: ["21"],
    });
    const both = next(ada.socket, "presence:viewing");
    await ask(bob.socket, "presence:view", { entry: "article:9" });
    // Ada may first hear her own view: wait for the list with both.
    await until(ada.socket, () => named(ada.seen, "presence:viewing").some((v) => v.users.length === 2));
    await both;
    const left = until(ada.socket, () => named(ada.seen, "presence:viewing").at(-1).users.length === 1);
    await ask(bob.socket, "presence:leave", { entry: "article:9" });
    await left;
    assert.deepEqual(named(ada.seen, "presence:viewing").at(-1), { entry: "article:9", users: ["21"] });
  } finally {
    ada.socket.close();
    bob.socket.close();
  }
});

test("subscriptions by type, entry and filter hear exactly the matching changes", async () => {
  const byType = await client(server.url, "31", "editor");
  const byEntry = await client(server.url, "32", "editor");
  const byFilter = await client(server.url, "33", "editor");
  const reader = await client(server.url, "34", "reader");
  const all = [byType, byEntry, byFilter, reader];
  try {
    assert.ok((await ask(byType.socket, "subscribe", { type: "article" })).subscription);
    await ask(byEntry.socket, "subscribe", { type: "article", id: 102 });
    await ask(byFilter.socket, "subscribe", { type: "article", filter: { status: { $in: ["published"] } } });
    await ask(reader.socket, "subscribe", { type: "article" });

    const u = server.url;
    await call(u, "POST", "/articles", { id: 101, status: "draft", title: "one", internalNotes: "n1" });
    await call(u, "PUT", "/articles/102", { status: "draft", title: "two", internalNotes: "n2" });
    await call(u, "PUT", "/articles/103", { status: "published", title: "three", internalNotes: "n3" });
    await call(u, "DELETE", "/articles/101");
    await call(u, "PUT", "/articles/102", { status: "published" });
    // The last change reaches everyone: once each has it, every earlier event arrived too.
    const last = (c) => c.seen.some(([e, p]) => e === "update" && p.data.id === 102 && p.data.status === "published");
    await Promise.all(all.map((c) => until(c.socket, () => last(c))));

    const summary = (c) => c.seen.filter(([e]) => e !== "presence:viewing").map(([e, p]) => `${e} ${p.type} ${p.data.id}`);
    assert.deepEqual(summary(byType), ["create article 101", "update article 102", "update article 103", "delete article 101", "update article 102"]);
    assert.deepEqual(summary(byEntry), ["update article 102", "update article 102"]);
    assert.deepEqual(summary(byFilter), ["update article 103", "update article 102"]);
    assert.deepEqual(summary(reader), ["update article 103", "update article 102"], "readers hear of published articles only");
    for (const [, p] of reader.seen) assert.ok(!("internalNotes" in p.data), JSON.stringify(p));
    assert.equal(byType.seen[0][1].data.internalNotes, "n1");

    const refused = await ask(reader.socket, "subscribe", { type: "article", filter: { views: { $like: 1 } } });
    assert.match(refused.error.message, /^filter\.views: unknown operator `\$like`/);
  } finally {
    for (const c of all) c.socket.close();
  }
});

test("a permission change takes effect on the next message", async () => {
  const u = server.url;
  await call(u, "PUT", "/permissions/guest", { hide: ["internalNotes"] });
  const guest = await client(u, "41", "guest");
  try {
    await ask(guest.socket, "subscribe", { type: "article", id: 105 });
    const data = () => guest.seen.filter(([e]) => e !== "presence:viewing").map(([e, p]) => [e, p.data]);
    await call(u, "PUT", "/articles/105", { status: "draft", title: "five", internalNotes: "n5" });
    await until(guest.socket, () => data().length === 1);
    await call(u, "PUT", "/permissions/guest", { hide: ["title"] });
    await call(u, "PUT", "/articles/105", { title: "five!" });
    await until(guest.socket, () => data().length === 2);
    await call(u, "PUT", "/permissions/guest", { revoke: true });
    await call(u, "PUT", "/articles/105", { title: "five!!" });
    await call(u, "DELETE", "/articles/105");
    await ask(guest.socket, "presence:list"); // barrier: anything sent before has arrived
    assert.deepEqual(data(), [
      ["update", { id: 105, status: "draft", title: "five" }],
      ["update", { id: 105, status: "draft" }],
    ]);
  } finally {
    guest.socket.close();
  }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10000);
    child.stdout.on("data", (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`redis-server exited with ${code}:\n${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

const hasRedis = spawnSync("redis-server", ["--version"]).status === 0;

test("across two Redis nodes: tabs count once, and a killed node's users go offline", async (t) => {
  assert.ok(hasRedis, "redis-server is missing: scripts/test.sh installs it (apt package redis-server)");
  const redis = await startRedis();
  const env = { JWT_SECRET: SECRET, REDIS_URL: redis.url, HEARTBEAT_MS: "300" };
  const a = await startExample("presence", env);
  // Node b traces the Redis adapter (socketioxide_redis): each of its replies to node a's cluster
  // listing (node a's heartbeat sweep; nothing else on node a lists rooms meanwhile) is logged with
  // the rooms it holds, so the test can wait until node a's sweep has seen user 9.
  const b = await startExample("presence", { ...env, RUST_LOG: "info,socketioxide_redis=trace" });
  const clients = [];
  let killed = false;
  try {
    const watcher = await client(a.url, "w2");
    clients.push(watcher);
    await ask(watcher.socket, "presence:subscribe", {});
    const onB = await client(b.url, "8");
    clients.push(onB);
    await until(watcher.socket, () => named(watcher.seen, "presence:online").some((u) => u.userId === "8"));
    const onA = await client(a.url, "8");
    clients.push(onA);
    await ask(onA.socket, "presence:list");
    await ask(watcher.socket, "presence:list");
    assert.equal(named(watcher.seen, "presence:online").filter((u) => u.userId === "8").length, 1);

    clients.push(await client(b.url, "9"));
    await until(watcher.socket, () => named(watcher.seen, "presence:online").some((u) => u.userId === "9"));
    // User 9's tab room on node b was joined before its online was announced: every listing node b
    // answers from now on holds it (`presence~[\"<node>\",\"9\",\"u9\"]` in the trace).
    let from = b.output().length;
    onA.socket.close();
    // Three sweeps of node a listed user 9 without an offline while the tab on node b lives (the
    // sweep must have listed user 9 once to announce it after node b dies).
    const listed9 = /^(?=[^\n]*sending response)(?=[^\n]*AllRooms\()[^\n]*\\"9\\",\\"u9\\"\][^\n]*\n/m;
    for (let i = 0; i < 3; i++) {
      const m = await b.waitForOutput(listed9, { from, timeout: 10000 });
      from += m.index + m[0].length;
    }
    await ask(watcher.socket, "presence:list"); // barrier: anything sent to the watcher before has arrived
    assert.deepEqual(named(watcher.seen, "presence:offline"), []);

    const killedAt = Date.now();
    killed = true;
    await b.kill();
    await until(
      watcher.socket,
      () => ["8", "9"].every((id) => named(watcher.seen, "presence:offline").some((u) => u.userId === id)),
      10000,
    );
    const elapsed = Date.now() - killedAt;
    t.diagnostic(`a killed node's users went offline after ${elapsed} ms (heartbeat 300 ms)`);
    const users = await ask(watcher.socket, "presence:list");
    assert.deepEqual(users.map((u) => u.userId), ["w2"]);
  } finally {
    for (const c of clients) c.socket.close();
    if (!killed) await b.stop();
    await a.stop();
    redis.stop();
  }
});
