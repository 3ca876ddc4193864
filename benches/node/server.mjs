// The Node.js socket.io 4.8 server of the side-by-side benchmark (benches/side_by_side.rs), with the
// same two handlers as the Rust servers:
//   echo  — acks its payload back;
//   burst — `n`: emits `tick` n times to every client of `/`.
// Listens on 127.0.0.1 on a free port and prints `listening 127.0.0.1:PORT` once ready.
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, { transports: ["websocket", "polling"] });

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => ack(data));
  socket.on("burst", (n) => {
    for (let i = 0; i < n; i++) io.emit("tick", i);
  });
  // Node has no drop counter: socket.io buffers without bound instead.
  socket.on("dropped", (ack) => ack(null));
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening 127.0.0.1:${httpServer.address().port}`);
});
