// An official socket.io-client for the Rust tests that need one (tests/overflow.rs): it connects
// to the URL in argv[2] with the client's default transports (long-polling, then the upgrade to a
// websocket) and writes one JSON line per event: each connection once it runs on a websocket
// ({connected: id}) and each disconnect ({disconnected: reason}). It reconnects quickly, and
// exits when its stdin closes (the test dropped it).
import { io } from "socket.io-client";

const socket = io(process.argv[2], { reconnectionDelay: 100, reconnectionDelayMax: 200 });
const report = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const onWebsocket = () => report({ connected: socket.id });

socket.on("connect", () => {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") onWebsocket();
  else engine.once("upgrade", onWebsocket);
});
socket.on("disconnect", (reason) => report({ disconnected: reason }));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
