// Opens a page in Debian's Chromium (driven by playwright-core), waits until
// the page sets window.__done, and prints window.__result as JSON on stdout.
// Usage: node browser.mjs URL [SCREENSHOT.png] [TIMEOUT_MS]
// Started by the Go tests of this folder; it exits by itself.
import { chromium } from 'playwright-core';

const [url, screenshot, timeout = '30000'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page: ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__done === true, null, { timeout: Number(timeout) });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(await page.evaluate(() => window.__result)));
} catch (err) {
  console.error(String(err));
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
