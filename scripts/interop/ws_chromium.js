// scripts/interop/ws_chromium.js — a real browser against ws-echo's page.
//
// Usage: [CHROMIUM=/path/to/chromium] NODE_PATH=.tools/node/node_modules \
//          node scripts/interop/ws_chromium.js http://127.0.0.1:PORT/
//
// Starts Debian's headless Chromium through playwright-core (no browser download:
// executablePath is $CHROMIUM, as scripts/interop.sh finds it, else the first of
// chromium-headless-shell and chromium that is installed), loads the page ws-echo serves with ?auto,
// waits (real time, at most 30 s) until the page's own WebSocket round trip has
// written its outcome into <pre id="result">, and prints that outcome.
const fs = require("fs");
const { chromium } = require("playwright-core");

const DEADLINE_MS = 30000;

// Where Debian's packages put the browser: chromium-headless-shell (headless
// only, far fewer dependencies) first, then the full chromium.
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

(async () => {
  const url = new URL(process.argv[2]);
  url.search = "?auto";
  const browser = await chromium.launch({
    executablePath: executablePath(),
    args: [
      "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      // https:// (serve wss): its certificate is self-signed and made at start.
      // Only this test tells the browser to skip the check; nothing else should.
      ...(url.protocol === "https:" ? ["--ignore-certificate-errors"] : []),
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
