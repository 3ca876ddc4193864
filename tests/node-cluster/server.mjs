// A Node.js socket.io 4.8 server on @socket.io/redis-adapter 8.x, driven by tests/redis_node.rs.
//
//   REDIS_URL=redis://127.0.0.1:6379 node server.mjs
//
// SOCKET_IO_REDIS_KEY sets the adapter's `key`, SPECIFIC_RESPONSE_CHANNEL=1 its
// `publishOnSpecificResponseChannel`.
//
// Listens on 127.0.0.1 on a free port and prints one JSON line `{"port": N}` when ready. Then reads
// commands from stdin, one JSON object a line `{"id", "op", ...}`, and answers each with a line
// `{"id", "ok": result}` or `{"id", "error": message}`. What the cluster sends it unasked is
// printed as `{"event": ...}` lines. Exits when stdin closes.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io as connectClient } from "socket.io-client";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const pubClient = createClient({ url });
const subClient = pubClient.duplicate();
pubClient.on("error", (e) => out({ log: `redis pub: ${e.message}` }));
subClient.on("error", (e) => out({ log: `redis sub: ${e.message}` }));
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pubClient, subClient, {
    requestsTimeout: 3000,
    key: process.env.SOCKET_IO_REDIS_KEY ?? "socket.io",
    publishOnSpecificResponseChannel: process.env.SPECIFIC_RESPONSE_CHANNEL === "1",
  }),
});

function setup(nsp) {
  nsp.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(socket.id);
    });
    socket.on("whoami", (ack) => ack(socket.id));
    // Clients of the tests answer acknowledged broadcasts themselves; this one answers for
    // the Node side's server-driven sockets.
  });
  // Server-side events from other nodes.
  nsp.on("hello", (...args) => out({ event: "serverSideEmit", ns: nsp.name, name: "hello", args }));
  nsp.on("ask", (...args) => {
    const ack = args.pop();
    out({ event: "serverSideEmit", ns: nsp.name, name: "ask", args });
    ack({ from: "node", got: args });
  });
}
setup(io.of("/"));
setup(io.of("/chat"));

function operator(nsp, cmd) {
  let op = io.of(nsp);
  if (cmd.rooms?.length) op = op.to(cmd.rooms);
  if (cmd.except?.length) op = op.except(cmd.except);
  if (cmd.volatile) op = op.volatile;
  if (cmd.local) op = op.local;
  return op;
}

// Official socket.io-client instances, connected on request to any node of the cluster.
const clients = new Map();
const encodeArgs = (args) =>
  args.map((a) => (Buffer.isBuffer(a) || a instanceof ArrayBuffer ? { $bytes: Buffer.from(a).toString("base64") } : a));

function clientWait(entry, event, timeout) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const i = entry.queue.findIndex((e) => e.event === event);
      if (i >= 0) {
        const [found] = entry.queue.splice(i, 1);
        entry.waiters.delete(check);
        clearTimeout(timer);
        resolve(encodeArgs(found.args));
      }
    };
    const timer = setTimeout(() => {
      entry.waiters.delete(check);
      reject(new Error(`client did not receive ${event}`));
    }, timeout);
    entry.waiters.add(check);
    check();
  });
}

const decodeArgs = (args = []) =>
  args.map((a) => (a && typeof a === "object" && typeof a.$bytes === "string" ? Buffer.from(a.$bytes, "base64") : a));

async function run(cmd) {
  const ns = cmd.ns ?? "/";
  switch (cmd.op) {
    case "emit":
      operator(ns, cmd).emit(cmd.event, ...decodeArgs(cmd.args));
      return true;
    case "burst":
      // `count` broadcasts back to back, for throughput measurements.
      for (let i = 0; i < cmd.count; i++) operator(ns, cmd).emit(cmd.event, i);
      return cmd.count;
    case "emitWithAck":
      return await operator(ns, cmd).timeout(cmd.timeout ?? 10000).emitWithAck(cmd.event, ...decodeArgs(cmd.args));
    case "fetchSockets": {
      const sockets = await operator(ns, cmd).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data ?? null }));
    }
    case "remoteSocketOp": {
      // fetch then act on one remote socket with RemoteSocket's methods
      const sockets = await io.of(ns).fetchSockets();
      const s = sockets.find((s) => s.id === cmd.sid);
      if (!s) throw new Error(`no socket ${cmd.sid}`);
      if (cmd.action === "join") s.join(cmd.room);
      else if (cmd.action === "leave") s.leave(cmd.room);
      else if (cmd.action === "emit") s.emit(cmd.event, ...decodeArgs(cmd.args));
      else if (cmd.action === "disconnect") s.disconnect();
      return true;
    }
    case "socketsJoin":
      operator(ns, cmd).socketsJoin(cmd.join);
      return true;
    case "socketsLeave":
      operator(ns, cmd).socketsLeave(cmd.leave);
      return true;
    case "disconnectSockets":
      operator(ns, cmd).disconnectSockets(true);
      return true;
    case "serverSideEmit":
      io.of(ns).serverSideEmit(cmd.event, ...(cmd.args ?? []));
      return true;
    case "serverSideEmitWithAck":
      return await io.of(ns).serverSideEmitWithAck(cmd.event, ...(cmd.args ?? []));
    case "allRooms":
      return [...(await io.of(ns).adapter.allRooms())];
    case "serverCount":
      return await io.of(ns).adapter.serverCount();
    case "localRooms": {
      const socket = io.of(ns).sockets.get(cmd.sid);
      return socket ? [...socket.rooms] : null;
    }
    case "clientConnect": {
      const socket = connectClient(cmd.url + (cmd.nsp ?? ""), { transports: ["websocket"], forceNew: true, reconnection: false });
      const entry = { socket, queue: [], waiters: new Set() };
      socket.onAny((event, ...args) => {
        entry.queue.push({ event, args });
        for (const w of [...entry.waiters]) w();
      });
      socket.on("disconnect", (reason) => {
        entry.queue.push({ event: "disconnect", args: [reason] });
        for (const w of [...entry.waiters]) w();
      });
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      clients.set(socket.id, entry);
      return socket.id;
    }
    case "clientWait":
      return await clientWait(clients.get(cmd.client), cmd.event, cmd.timeout ?? 4000);
    case "clientEmitWithAck":
      return await clients.get(cmd.client).socket.timeout(4000).emitWithAck(cmd.event, ...decodeArgs(cmd.args));
    case "localSockets":
      return [...io.of(ns).sockets.keys()];
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

httpServer.listen(0, "127.0.0.1", () => out({ port: httpServer.address().port }));

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return out({ log: `bad command: ${line}` });
  }
  try {
    out({ id: cmd.id, ok: (await run(cmd)) ?? null });
  } catch (e) {
    out({ id: cmd.id, error: String(e?.message ?? e) });
  }
});
lines.on("close", async () => {
  for (const { socket } of clients.values()) socket.disconnect();
  io.close();
  await Promise.allSettled([pubClient.quit(), subClient.quit()]);
  process.exit(0);
});
