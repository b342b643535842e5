// scripts/interop/ws_deflate_node.js URL: permessage-deflate with Node's `ws` package.
//
// Its client offers permessage-deflate by default (`perMessageDeflate: true`);
// threshold 0 makes it compress every message, however small (its default,
// 1024 bytes, would send the short ones plain). Prints the negotiated
// extension, one line per message echoed with the same type and bytes, and
// the close code (scripts/interop.sh compares the output).
"use strict";
const WebSocket = require("ws");

const url = process.argv[2];
const line = JSON.stringify({ user: "ada", room: "lobby", text: "hello, room \u00e9\u4e16".repeat(40) });
const messages = [
  ["json", line, false],
  ["short", "hi", false],
  ["binary", Buffer.alloc(4096, 7), true],
];
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
const timer = setTimeout(() => { console.log("timeout"); process.exit(1); }, 10000);
let step = 0;

function sendNext() {
  const [, data, binary] = messages[step];
  ws.send(data, { binary });
}
ws.on("open", () => {
  // ws.extensions: the 101's Sec-WebSocket-Extensions value, as the server wrote it.
  console.log("extension", ws.extensions || "(none)");
  sendNext();
});
ws.on("message", (data, isBinary) => {
  const [name, sent, binary] = messages[step];
  const same = isBinary === binary && Buffer.compare(Buffer.from(data), Buffer.from(sent)) === 0;
  console.log(name, same ? "ok" : "MISMATCH");
  step += 1;
  if (step < messages.length) sendNext(); else ws.close(1000, "bye");
});
ws.on("close", (code) => { console.log("close", code); clearTimeout(timer); });
ws.on("error", (e) => { console.log("error", e.message); process.exit(1); });
