// The content example driven by the official socket.io-client: changes made over HTTP reach exactly
// the clients allowed to see them, without internal fields.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startExample, connect, next, jwt, TRANSPORTS } from "./support.mjs";

const SECRET = "js-content-secret";
const token = (sub, role) =>
  jwt(SECRET, { sub, username: `u${sub}`, roles: [role], exp: Math.floor(Date.now() / 1000) + 3600 });

let server;
before(async () => {
  server = await startExample("content", { JWT_SECRET: SECRET });
});
after(async () => {
  await server?.stop();
});

/** A connected client of user `sub` with `role`, and the events it receives, in order. */
async function client(transports, sub, role) {
  const socket = await connect(server.url, { transports, auth: { token: token(sub, role) } });
  const seen = [];
  socket.onAny((event, payload) => seen.push([event, payload.data.id, Object.keys(payload.data).sort()]));
  return { socket, seen };
}

async function call(method, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}

for (const transports of TRANSPORTS) {
  const via = transports[0];

  test(`article events reach editors and the author; published ones reach everyone (${via})`, async () => {
    const editor = await client(transports, "1", "editor");
    const author = await client(transports, "5", "reader");
    const reader = await client(transports, "2", "reader");
    try {
      const created = await call("POST", "/articles", { title: "Hello", authorId: "5", internalNotes: "draft" });
      assert.equal(created.status, 200, created.body);
      const id = JSON.parse(created.body).id;
      // The publish reaches everyone: once the reader has it, every earlier event has arrived too.
      const published = next(reader.socket, "article:publish");
      assert.equal((await call("POST", `/articles/${id}/publish`)).status, 200);
      await published;
      const deleted = next(author.socket, "article:delete");
      assert.equal((await call("DELETE", `/articles/${id}`)).status, 200);
      await deleted;
      const other = JSON.parse((await call("POST", "/articles", { title: "Other", authorId: "9" })).body).id;
      const closing = Promise.all([editor, author, reader].map((c) => next(c.socket, "article:publish")));
      await call("POST", `/articles/${other}/publish`);
      await closing;

      const fields = ["authorId", "id", "title"];
      assert.deepEqual(editor.seen, [
        ["article:create", id, fields],
        ["article:publish", id, fields],
        ["article:delete", id, fields],
        ["article:create", other, fields],
        ["article:publish", other, fields],
      ]);
      assert.deepEqual(author.seen, [
        ["article:create", id, fields],
        ["article:publish", id, fields],
        ["article:delete", id, fields],
        ["article:publish", other, fields],
      ]);
      assert.deepEqual(reader.seen, [
        ["article:publish", id, fields],
        ["article:publish", other, fields],
      ]);
    } finally {
      for (const c of [editor, author, reader]) c.socket.close();
    }
  });
}

test("the API refuses bad input with clear errors", async () => {
  const bad = await call("POST", "/articles", { title: 3 });
  assert.equal(bad.status, 422);
  assert.match(bad.body, /`title` and `authorId` must be strings/);
  const missing = await call("DELETE", "/articles/999");
  assert.equal(missing.status, 404);
  assert.equal(missing.body, "no article 999");
});
