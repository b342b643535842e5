// scripts/interop/sio_browser.js URL: what a browser's plain `new WebSocket(URL)`
// sees when URL is a socket.io endpoint.
//
// Usage: CHROMIUM=/path/to/chromium NODE_PATH=.tools/node/node_modules \
//          node scripts/interop/sio_browser.js 'ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket'
//
// Opens a blank page in Debian's headless Chromium (through playwright-core, as
// scripts/interop/ws_chromium.js does), runs the browser's own WebSocket API in
// it, and prints each event the page gets — open, every message, close with its
// code — with its time since the constructor, until the close or WAIT_MS. The
// page sends nothing: it is what `new WebSocket()` does without a socket.io
// library on top.
"use strict";
const { chromium } = require("playwright-core");

const WAIT_MS = 3000; // at most this long in the page; the demo server closes well before

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage();
    const events = await page.evaluate(
      ([url, waitMs]) =>
        new Promise((resolve) => {
          const events = [];
          const t0 = performance.now();
          const at = () => `${Math.round(performance.now() - t0)} ms`.padStart(7);
          const ws = new WebSocket(url);
          ws.onopen = () => events.push(`${at()}  open`);
          ws.onmessage = (e) => events.push(`${at()}  message ${JSON.stringify(e.data)}`);
          ws.onclose = (e) => {
            events.push(`${at()}  close code=${e.code} wasClean=${e.wasClean}`);
            resolve(events);
          };
          setTimeout(() => resolve(events.concat(`${at()}  (still open)`)), waitMs);
        }),
      [process.argv[2], WAIT_MS],
    );
    for (const line of events) console.log(line);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
