// scripts/interop/classroom_chromium.js — the classroom's dashboard in a real
// browser, watching a class connect and leave.
//
// Usage: [CHROMIUM=/path/to/chromium] NODE_PATH=.tools/node/node_modules \
//          node scripts/interop/classroom_chromium.js http://127.0.0.1:PORT/ READY_FILE ROWS CLOSED PNG
//
// Loads the dashboard, waits until its feed is live and then creates READY_FILE
// (the students start after that), waits (at most 60 s) until the page shows
// ROWS connection rows of which CLOSED are closed, saves a screenshot to PNG,
// and prints "PASS rows=ROWS closed=CLOSED" (or what the page showed instead).
const fs = require("fs");
const { chromium } = require("playwright-core");

const DEADLINE_MS = 60000;
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
  const [url, ready, rows, closed, png] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: executablePath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(url, { timeout: DEADLINE_MS });
    await page.waitForFunction(() => document.getElementById("status").textContent === "live",
      null, { timeout: DEADLINE_MS });
    fs.writeFileSync(ready, "live\n");
    const seen = () => page.evaluate(() => ({
      rows: document.querySelectorAll("#conns tbody tr").length,
      closed: document.querySelectorAll("#conns tbody tr.closed").length,
    }));
    try {
      await page.waitForFunction(([r, c]) =>
        document.querySelectorAll("#conns tbody tr").length === r &&
        document.querySelectorAll("#conns tbody tr.closed").length === c,
      [Number(rows), Number(closed)], { timeout: DEADLINE_MS });
    } catch {
      const s = await seen();
      console.log(`FAIL rows=${s.rows} closed=${s.closed}`);
      return;
    }
    await page.screenshot({ path: png, fullPage: true });
    const s = await seen();
    console.log(`PASS rows=${s.rows} closed=${s.closed}`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
