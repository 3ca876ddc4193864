// The quick start example, and the same server written with #[hooks], driven by the official
// socket.io-client over websocket and polling.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startExample, connect, next, TRANSPORTS, WAIT_MS } from "./support.mjs";

const servers = {};
before(async () => {
  servers.quickstart = await startExample("quickstart");
  servers.hooks = await startExample("hooks");
});
after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
});

for (const [example, transports] of ["quickstart", "hooks"].flatMap((e) => TRANSPORTS.map((t) => [e, t]))) {
  const via = `${example}, ${transports[0]}`;
  const server = { get url() { return servers[example].url; } };

  test(`echo answers with the same payload (${via})`, async () => {
    const socket = await connect(server.url, { transports });
    try {
      const reply = await socket.timeout(WAIT_MS).emitWithAck("echo", { hello: "world", n: [1, 2] });
      assert.deepEqual(reply, { hello: "world", n: [1, 2] });
    } finally {
      socket.close();
    }
  });

  test(`chat reaches every member of the room, and only them (${via})`, async () => {
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => connect(server.url, { transports })));
    try {
      assert.deepEqual(await alice.timeout(WAIT_MS).emitWithAck("join", "lobby"), { joined: "lobby" });
      assert.deepEqual(await bob.timeout(WAIT_MS).emitWithAck("join", "lobby"), { joined: "lobby" });
      const carolGot = [];
      carol.on("chat", (msg) => carolGot.push(msg.message));
      const got = Promise.all([next(alice, "chat"), next(bob, "chat")]);
      alice.emit("chat", { room: "lobby", message: "hi all" });
      const [[a], [b]] = await got;
      assert.equal(a.message, "hi all");
      assert.equal(b.message, "hi all");
      assert.equal(a.from, b.from);
      // carol, outside the lobby, then chats in her own room: the server handles her socket in
      // order, so had the lobby message reached her it would have arrived before her own.
      await carol.timeout(WAIT_MS).emitWithAck("join", "other");
      const own = next(carol, "chat");
      carol.emit("chat", { room: "other", message: "alone" });
      await own;
      assert.deepEqual(carolGot, ["alone"]);
    } finally {
      [alice, bob, carol].forEach((s) => s.close());
    }
  });

  test(`a payload of the wrong shape is answered with an error (${via})`, async () => {
    const socket = await connect(server.url, { transports });
    try {
      const error = next(socket, "error");
      socket.emit("chat", "not an object");
      const [body] = await error;
      // Exactly `{message}`, the shape Socket.IO servers use for `error` events.
      assert.deepEqual(Object.keys(body), ["message"]);
      assert.match(body.message, /^Invalid payload for `chat`/);

      const reply = await socket.timeout(WAIT_MS).emitWithAck("join", { not: "a string" });
      assert.match(reply.error.message, /^Invalid payload for `join`/);
    } finally {
      socket.close();
    }
  });

  test(`an unknown event is answered with an error event (${via})`, async () => {
    const socket = await connect(server.url, { transports });
    try {
      const error = next(socket, "error");
      socket.emit("no-such-event", 1);
      assert.deepEqual((await error)[0], { message: "Unknown event `no-such-event`" });
    } finally {
      socket.close();
    }
  });
}

test("SIGTERM stops the example cleanly", async () => {
  const own = await startExample("quickstart");
  const socket = await connect(own.url);
  const disconnected = next(socket, "disconnect");
  const code = await own.stop();
  assert.equal(code, 0);
  await disconnected;
});
