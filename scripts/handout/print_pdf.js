// scripts/handout/print_pdf.js — print one page of the built book to a PDF with
// headless Chromium, through the page's own print stylesheet.
//
// Usage: [CHROMIUM=/path/to/chromium] NODE_PATH=.tools/node/node_modules \
//          node scripts/handout/print_pdf.js target/book/handout.html OUT.pdf
//
// No browser download: playwright-core drives the Chromium Debian installed
// ($CHROMIUM, else chromium-headless-shell, else chromium). page.pdf() prints
// with the "print" media type, so docs/handout.css starts each lesson on a new
// sheet, exactly as the browser's own Print would.
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

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
  const [html, out] = process.argv.slice(2);
  if (!html || !out) throw new Error("usage: print_pdf.js PAGE.html OUT.pdf");
  const browser = await chromium.launch({
    executablePath: executablePath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.goto("file://" + path.resolve(html), { waitUntil: "load", timeout: 30000 });
    await page.pdf({ path: out, format: "A4", printBackground: false,
      margin: { top: "15mm", bottom: "15mm", left: "15mm", right: "15mm" } });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(`error: ${e.message.split("\n")[0]}`);
  process.exit(1);
});
