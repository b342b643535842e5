// scripts/interop/sio_server.js [SECS]: a real socket.io server (npm `socket.io` v4) on loopback.
//
// Binds 127.0.0.1 port 0 and prints "port N" once the kernel has given it a
// port (so the caller never has to guess a free one), answers the event "echo"
// with an ack carrying the same arguments, and exits by itself after SECS
// seconds (default 20). scripts/interop.sh and scripts/gen-socketio-docs.sh start
// it; NODE_PATH points at .tools/node.
//
// The heartbeat is short on purpose: the server sends Engine.IO ping `2` every
// PING_INTERVAL_MS and drops a client whose pong `3` has not come PING_TIMEOUT_MS
// later. A client that does not speak Engine.IO is gone in well under a second.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const PING_INTERVAL_MS = 300; // how often the server sends ping `2`
const PING_TIMEOUT_MS = 300; // how long it then waits for pong `3`
const lifetime = Number(process.argv[2] || 20) * 1000;

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: PING_INTERVAL_MS,
  pingTimeout: PING_TIMEOUT_MS,
});

io.on("connection", (socket) => {
  // 42["echo", …] with an ack id arrives as an event; the callback sends 43 back.
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
});

// listen(0): bind(2) to port 0, the kernel picks a free port; then print it.
httpServer.listen(0, "127.0.0.1", () => {
  console.log("port", httpServer.address().port);
});

// Bounded: whatever happens, the process ends.
setTimeout(() => {
  io.close();
  process.exit(0);
}, lifetime).unref();
