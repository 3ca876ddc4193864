// Graceful shutdown under load, as the official client sees it: on SIGTERM every client of every
// namespace, on websocket and on long-polling, receives the seed's `server:shutdown` notice before
// its disconnect, and the disconnect comes from the server. Repeated IOSTACK_SHUTDOWN_ROUNDS times
// (default 20), each with a fresh server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { startExample, jwt, WAIT_MS } from "./support.mjs";

const SECRET = "shutdown-secret";
const ROUNDS = Number(process.env.IOSTACK_SHUTDOWN_ROUNDS ?? 20);
const CLIENTS = 200;
const NOTICE = { message: "Server is restarting", reconnectIn: 5000 };
const NAMESPACES = ["/", "/chat", "/admin"];

const token = (sub) =>
  jwt(SECRET, { sub, username: `u${sub}`, roles: ["admin"], exp: Math.floor(Date.now() / 1000) + 3600 });

/** Connects one client and records, in order, what it is told until its disconnect. */
function client(url, ns, transports, sub) {
  const socket = io(`${url}${ns === "/" ? "" : ns}`, {
    transports,
    reconnection: false,
    forceNew: true,
    timeout: WAIT_MS,
    auth: { token: token(sub) },
  });
  const seen = [];
  const done = new Promise((resolve) => {
    socket.on("server:shutdown", (notice) => seen.push(["server:shutdown", notice]));
    socket.on("disconnect", (reason) => {
      seen.push(["disconnect", reason]);
      resolve(seen);
    });
  });
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${sub} (${ns}, ${transports[0]}) did not connect`)), WAIT_MS * 4);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { connected, done };
}

test(`SIGTERM: ${CLIENTS} clients, half polling, across ${NAMESPACES.join(" ")}, ${ROUNDS} rounds: every one told before its disconnect`, async () => {
  let told = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const db = path.join(tmpdir(), `iostack-shutdown-${process.pid}-${round}.db`);
    const server = await startExample("realtime", {
      JWT_SECRET: SECRET,
      DATABASE_URL: `sqlite://${db}?mode=rwc`,
      CONNECTS_PER_MINUTE: "100000",
    });
    const clients = [];
    try {
      for (let i = 0; i < CLIENTS; i++) {
        const transports = i % 2 === 0 ? ["websocket"] : ["polling"];
        clients.push(client(server.url, NAMESPACES[i % NAMESPACES.length], transports, `${round}-${i}`));
      }
      await Promise.all(clients.map((c) => c.connected));
    } catch (err) {
      await server.stop();
      throw err;
    }
    const code = await server.stop();
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("clients not disconnected")), WAIT_MS * 4));
    const outcomes = await Promise.race([Promise.all(clients.map((c) => c.done)), timeout]);
    outcomes.forEach((seen, i) => {
      const what = `round ${round}, client ${i} (${NAMESPACES[i % 3]}, ${i % 2 === 0 ? "websocket" : "polling"})`;
      assert.deepEqual(seen, [["server:shutdown", NOTICE], ["disconnect", "io server disconnect"]], what);
    });
    told += outcomes.length;
    assert.equal(code, 0, `round ${round}: the server exits cleanly`);
  }
  console.log(`${told}/${ROUNDS * CLIENTS} clients received server:shutdown before a server disconnect`);
});
