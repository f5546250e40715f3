// Headless Chromium for HTML reports: launching it (Debian's chromium, as root in CI) and writing a PNG of a
// report. The report tests use launchChromium; the docs screenshot comes from the command line:
//   node scripts/report-screenshot.mjs REPORT.html OUT.png [WIDTH [HEIGHT]]
// (CSS pixels, default 1280 wide and the full page; HEIGHT keeps only the top of the page).
// CHROMIUM_PATH overrides the browser (default /usr/bin/chromium). puppeteer-core never downloads a browser.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium without sandbox (CI runs as root), GPU or first-run chores, plus `extraArgs`; the caller closes it. */
export function launchChromium(extraArgs = []) {
  if (!existsSync(CHROMIUM_PATH)) return Promise.reject(new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`));
  return puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--hide-scrollbars', '--font-render-hinting=none', ...extraArgs],
  });
}

/**
 * Opens the report from disk and writes a PNG at the given CSS width, 2 device pixels per CSS pixel for sharp
 * text: the whole page, or its top `height` CSS pixels.
 */
export async function screenshotReport(htmlPath, pngPath, { width = 1280, height } = {}) {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width, height: height ?? 900, deviceScaleFactor: 2 });
    await page.goto(pathToFileURL(resolve(htmlPath)).href, { waitUntil: 'load' });
    await page.screenshot({ path: pngPath, fullPage: height === undefined });
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [html, png, width, height] = process.argv.slice(2);
  if (!html || !png || [width, height].some((v) => v !== undefined && !(Number(v) > 0))) {
    console.error('usage: node scripts/report-screenshot.mjs REPORT.html OUT.png [WIDTH [HEIGHT]]  (CSS pixels)');
    process.exit(2);
  }
  if (!existsSync(html)) {
    console.error(`report-screenshot: no such file: ${html} (write the report first, e.g. with impera plan)`);
    process.exit(1);
  }
  try {
    await screenshotReport(html, png, { ...(width ? { width: Number(width) } : {}), ...(height ? { height: Number(height) } : {}) });
    console.log(`wrote ${png}`);
  } catch (e) {
    console.error(`report-screenshot: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
