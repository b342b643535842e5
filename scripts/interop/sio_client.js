// scripts/interop/sio_client.js URL: a real socket.io client (npm `socket.io-client` v4),
// printing every Engine.IO packet it sends and receives, as the text that
// crosses the wire.
//
// It starts the way a browser's socket.io does: HTTP long polling first, then
// the upgrade to WebSocket (2probe, 3probe, 5). Once both the namespace is
// joined (40) and the upgrade is done, it emits "echo" with an ack
// (42N["echo","hi"]) and waits for the ack (43N["hi"]); then it stays one
// heartbeat longer, so a ping 2 and its pong 3 are seen, and disconnects.
// scripts/interop.sh checks the lines; scripts/gen-socketio-docs.sh keeps them
// for docs/socketio.md. NODE_PATH points at .tools/node.
//
// The packets are logged by two small subclasses of engine.io-client's own
// transports: each wraps the method that receives raw data (onData) and the one
// that writes it (doWrite), so what is printed is exactly what was read from or
// written to the socket, before any decoding. Over polling, one HTTP body may
// hold several packets, separated by the byte 0x1e (shown as \x1e).
"use strict";
const { io } = require("socket.io-client");
const { NodeXHR, NodeWebSocket } = require("engine.io-client");

const HEARTBEAT_WAIT_MS = 450; // longer than the demo server's pingInterval (300 ms)
const DEADLINE_MS = 10000; // the whole run, whatever happens

const url = process.argv[2];

/** One line per raw unit: direction, transport, the text with 0x1e made visible. */
function log(dir, transport, data) {
  const text = typeof data === "string" ? data : `<${data.length} binary bytes>`;
  const shown = JSON.stringify(text).replace(/\\u001e/g, "\\x1e");
  console.log(`${dir} ${transport.padEnd(9)} ${shown}`);
}

class LoggedPolling extends NodeXHR {
  onData(data) {
    log("←", this.name, data);
    super.onData(data);
  }
  doWrite(data, fn) {
    log("→", this.name, data);
    super.doWrite(data, fn);
  }
}

class LoggedWebSocket extends NodeWebSocket {
  onData(data) {
    log("←", this.name, data);
    super.onData(data);
  }
  doWrite(packet, data) {
    log("→", this.name, data);
    super.doWrite(packet, data);
  }
}

setTimeout(() => {
  console.log("timeout");
  process.exit(1);
}, DEADLINE_MS).unref();

const socket = io(url, {
  transports: [LoggedPolling, LoggedWebSocket], // polling first, then upgrade
  reconnection: false, // one run, no retry: a failure must show
});
socket.on("connect_error", (e) => {
  console.log("connect_error", e.message);
  process.exit(1);
});

const connected = new Promise((resolve) => socket.on("connect", resolve));
const upgraded = new Promise((resolve) => socket.io.engine.on("upgrade", resolve));

Promise.all([connected, upgraded]).then(async () => {
  const reply = await socket.timeout(5000).emitWithAck("echo", "hi");
  console.log("ack:", JSON.stringify(reply));
  await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_WAIT_MS));
  socket.disconnect();
  console.log("disconnected");
});
