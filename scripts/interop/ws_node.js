// scripts/interop/ws_node.js URL [CAFILE]: echo through a WebSocket server with Node's `ws` package.
//
// Sends a text and a binary message, checks each comes back with the same type
// and bytes, closes with 1000, and prints one line per check plus the close code
// (scripts/interop.sh compares the output). NODE_PATH points at .tools/node.
// For a wss:// URL, CAFILE is the certificate to trust: verification stays on.
"use strict";
const fs = require("fs");
const WebSocket = require("ws");

const url = process.argv[2];
const text = "hello from node ws \u00e9\u4e16";
const binary = Buffer.from([0, 1, 2, 127, 128, 255]);
const options = process.argv[3] ? { ca: fs.readFileSync(process.argv[3]) } : {};
const ws = new WebSocket(url, options);
const timer = setTimeout(() => { console.log("timeout"); process.exit(1); }, 10000);
let step = 0;

ws.on("open", () => ws.send(text));
ws.on("message", (data, isBinary) => {
  if (step === 0) {
    console.log("text", !isBinary && data.toString("utf8") === text ? "ok" : "MISMATCH");
    ws.send(binary, { binary: true });
  } else {
    console.log("binary", isBinary && Buffer.compare(data, binary) === 0 ? "ok" : "MISMATCH");
    ws.close(1000, "bye");
  }
  step += 1;
});
ws.on("close", (code) => { console.log("close", code); clearTimeout(timer); });
ws.on("error", (e) => { console.log("error", e.message); process.exit(1); });
