// scripts/interop/push_chromium.js — a real browser receiving the push server's
// events four ways at once: short polling, long polling, EventSource, WebSocket.
//
// Usage: [CHROMIUM=/path/to/chromium] NODE_PATH=.tools/node/node_modules \
//          node scripts/interop/push_chromium.js http://127.0.0.1:PORT/
//
// Loads the page `socklab serve push` serves, waits (real time, at most 30 s)
// until every technique has received events, publishes one line from the page's
// WebSocket, and compares the *sequences of event ids* each technique received
// (not their counts): each must be consecutive — nothing lost, nothing twice —
// and all four must hold the line the page published. Prints PASS or FAIL with
// the sequences.
const fs = require("fs");
const { chromium } = require("playwright-core");

const DEADLINE_MS = 30000;
const CANDIDATES = [
  "/usr/bin/chromium-headless-shell",
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium",
];

function executablePath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  const found = CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no Chromium found (tried ${CANDIDATES.join(", ")}); set CHROMIUM`);
  return found;
}

function consecutive(ids) {
  return ids.every((id, i) => i === 0 || id === ids[i - 1] + 1);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: executablePath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(process.argv[2], { timeout: DEADLINE_MS });
    const names = ["poll", "long", "sse", "ws"];
    // Every technique has events, and the WebSocket is open.
    await page.waitForFunction((names) => names.every((n) => window.received[n].length >= 3),
      names, { timeout: DEADLINE_MS });
    await page.evaluate(() => window.publish("from chromium"));
    // The published line reaches all four (the page shows it as data).
    await page.waitForFunction(() => ["poll", "long", "sse", "ws"].every(
      (n) => document.getElementById(n).textContent.includes("from chromium")),
      null, { timeout: DEADLINE_MS });
    const got = await page.evaluate(() => window.received);
    const bad = names.filter((n) => !consecutive(got[n]));
    const summary = names.map((n) => `${n}=${got[n][0]}..${got[n][got[n].length - 1]}`).join(" ");
    if (bad.length) {
      console.log(`FAIL not consecutive: ${bad.map((n) => `${n} [${got[n].join(",")}]`).join(" ")}`);
      process.exit(1);
    }
    console.log(`PASS every technique consecutive, all got the published line (${summary})`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
