// Publishes with @socket.io/redis-emitter 5.x, then exits; driven by tests/redis_node.rs.
//
//   REDIS_URL=redis://127.0.0.1:6379 node emitter.mjs '<json array of commands>'
//
// Commands: {"op": "emit", "ns", "event", "args", "rooms", "except"}, {"op": "socketsJoin", "ns",
// "rooms", "join"}, {"op": "socketsLeave", ..., "leave"}, {"op": "disconnectSockets", "ns", "rooms"},
// {"op": "serverSideEmit", "ns", "event", "args"}.
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const commands = JSON.parse(process.argv[2] ?? "[]");

const client = createClient({ url });
await client.connect();
const emitter = new Emitter(client);

for (const cmd of commands) {
  let op = emitter.of(cmd.ns ?? "/");
  if (cmd.op === "serverSideEmit") {
    op.serverSideEmit(cmd.event, ...(cmd.args ?? []));
    continue;
  }
  if (cmd.rooms?.length) op = op.to(cmd.rooms);
  if (cmd.except?.length) op = op.except(cmd.except);
  if (cmd.op === "emit") op.emit(cmd.event, ...(cmd.args ?? []));
  else if (cmd.op === "socketsJoin") op.socketsJoin(cmd.join);
  else if (cmd.op === "socketsLeave") op.socketsLeave(cmd.leave);
  else if (cmd.op === "disconnectSockets") op.disconnectSockets(true);
  else throw new Error(`unknown op ${cmd.op}`);
}
// quit() waits for the replies of every command sent before it.
await client.quit();
console.log(JSON.stringify({ published: commands.length }));
