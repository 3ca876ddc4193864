// The secured example (five middleware layers) driven by the official socket.io-client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startExample, connect, next, refusal, jwt, TRANSPORTS, WAIT_MS } from "./support.mjs";

const SECRET = "js-test-secret";
const now = () => Math.floor(Date.now() / 1000);
const token = (sub, roles = [], exp = now() + 3600) => jwt(SECRET, { sub, username: `u${sub}`, roles, exp });

let server;
before(async () => {
  server = await startExample("secured", { JWT_SECRET: SECRET });
});
after(async () => {
  await server?.stop();
});

for (const transports of TRANSPORTS) {
  const via = transports[0];

  test(`missing, forged and expired tokens are refused with exact messages (${via})`, async () => {
    assert.equal(await refusal(server.url, { transports }), "Authentication required");
    assert.equal(await refusal(server.url, { transports, auth: { token: "garbage" } }), "Invalid token");
    const forged = jwt("another-secret", { sub: "1", exp: now() + 60 });
    assert.equal(await refusal(server.url, { transports, auth: { token: forged } }), "Invalid token");
    const expired = token("1", [], now() - 60);
    assert.equal(await refusal(server.url, { transports, auth: { token: expired } }), "Invalid token");
  });

  test(`a valid token is admitted with its identity (${via})`, async () => {
    const socket = await connect(server.url, { transports, auth: { token: token("7", ["editor"]) } });
    try {
      const me = await socket.timeout(WAIT_MS).emitWithAck("whoami", null);
      assert.equal(me.id, "7");
      assert.deepEqual(me.roles, ["editor"]);
      assert.deepEqual(await socket.timeout(WAIT_MS).emitWithAck("echo", [1, 2]), [1, 2]);
    } finally {
      socket.close();
    }
  });

  test(`the admin namespace requires the admin role (${via})`, async () => {
    const editor = token("2", ["editor"]);
    assert.equal(await refusal(`${server.url}/admin`, { transports, auth: { token: editor } }), "Admin access required");
    const admin = await connect(`${server.url}/admin`, { transports, auth: { token: token("1", ["admin"]) } });
    try {
      assert.equal((await admin.timeout(WAIT_MS).emitWithAck("whoami", null)).id, "1");
    } finally {
      admin.close();
    }
  });

  test(`a flood of events is answered with the rate-limit error (${via})`, async () => {
    const socket = await connect(server.url, { transports, auth: { token: token("3") } });
    try {
      const error = next(socket, "error");
      // 20 a second with a burst of 20: some of 200 events are refused unless the server takes
      // over 9 s to handle them, even on a loaded machine. Stay under the socket's queue of 256
      // events: beyond it, events are refused as overloaded, with another message.
      for (let i = 0; i < 200; i++) socket.emit("echo", i);
      const [body] = await error;
      assert.deepEqual(body, { message: "Too many requests. Please slow down." });
    } finally {
      socket.close();
    }
  });
}

test("an address outside the allowlist is refused", async () => {
  const strict = await startExample("secured", { JWT_SECRET: SECRET, IP_ALLOWLIST: "10.0.0.0/8" });
  try {
    assert.equal(await refusal(strict.url, { auth: { token: token("1") } }), "IP not whitelisted");
  } finally {
    await strict.stop();
  }
});
