// scripts/interop/ws_chromium.js — a real browser against ws-echo's page.
//
// Usage: NODE_PATH=.tools/node/node_modules node scripts/interop/ws_chromium.js http://127.0.0.1:PORT/
//
// Starts Debian's Chromium headless through playwright-core (no browser download:
// executablePath is /usr/bin/chromium), loads the page ws-echo serves with ?auto,
// waits (real time, at most 30 s) until the page's own WebSocket round trip has
// written its outcome into <pre id="result">, and prints that outcome.
const { chromium } = require("playwright-core");

const DEADLINE_MS = 30000;

(async () => {
  const url = new URL(process.argv[2]);
  url.search = "?auto";
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url.toString(), { timeout: DEADLINE_MS });
    const result = page.locator("#result");
    await page.waitForFunction(
      () => !["not run", "running"].includes(document.getElementById("result").textContent),
      null,
      { timeout: DEADLINE_MS },
    );
    console.log((await result.textContent()).trim());
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
