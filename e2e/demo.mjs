// Drives the demo page as a person would: waits for a live tick, types a
// message, publishes it, and waits until it shows in the list. Prints
// {"tick": bool, "text": "<list text>"} and saves a screenshot.
// Usage: node demo.mjs URL SCREENSHOT.png
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await page.goto(url);
  const list = page.locator('#messages');
  await list.getByText('tick', { exact: false }).first().waitFor({ timeout: 20000 });
  await page.fill('#text', 'hello from the browser');
  await page.click('button[type=submit]');
  await list.getByText('hello from the browser').first().waitFor({ timeout: 20000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ tick: true, text: await list.innerText() }));
} catch (err) {
  console.error(String(err));
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
