// scripts/interop/chat_chromium.js — the chat page in a real browser, as one
// member of a room that also has a TCP member (ncat) and `socklab chat ws://…`.
//
// Usage: [CHROMIUM=/path/to/chromium] NODE_PATH=.tools/node/node_modules \
//          node scripts/interop/chat_chromium.js http://127.0.0.1:PORT/ MEMBERS SAY EXPECT...
//
// Loads the page `socklab serve chat` serves, waits (at most 30 s) until the
// room announces MEMBERS members (so the others are in), says SAY through the
// page's own WebSocket, then waits until a line containing each EXPECT has
// arrived, and prints "PASS" with one name=true per EXPECT (or what is missing).
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

(async () => {
  const [url, members, say, ...expect] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: executablePath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url, { timeout: DEADLINE_MS });
    // The room's join notices say how many members there are.
    await page.waitForFunction(
      (n) => window.lines.some((l) => l.includes(`joined (${n} members)`)),
      members, { timeout: DEADLINE_MS });
    await page.evaluate((text) => window.say(text), say);
    const missing = [];
    for (const e of expect) {
      try {
        await page.waitForFunction((t) => window.lines.some((l) => l.includes(t)), e,
          { timeout: DEADLINE_MS });
      } catch {
        missing.push(e);
      }
    }
    console.log(missing.length ? `FAIL missing: ${missing.join(", ")}` :
      "PASS " + expect.map((e) => `${e.replace(/ /g, "_")}=true`).join(" "));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
