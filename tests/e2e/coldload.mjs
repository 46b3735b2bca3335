// coldload.mjs — what the web app costs a first visit: requests and bytes
// on the wire (compressed, headers included) for the login page with an
// empty cache, against a budget. Used by `make bench` (ops/bench/run.sh) and
// by the cold_load_budget test of tests/e2e/webapp.mjs.
//
//   node tests/e2e/coldload.mjs <base-url>   (prints one line, JSON on stdout's last line)
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';

// Today's app is ~14 requests and ~40 KB; the budget leaves room to grow a
// little and fails loudly when a change (an uncompressed file, a new
// request chain, a forgotten favicon) costs much more.
export const BUDGET = { requests: 20, kilobytes: 80 };

/** Loads `base`/ in a fresh context; resolves with {requests, bytes, paths}. */
export async function measureColdLoad(browser, base) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const sizes = new Map();
  const paths = [];
  cdp.on('Network.requestWillBeSent', (e) => paths.push(new URL(e.request.url).pathname));
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(`${base}/`, { waitUntil: 'networkidle' });
  await page.getByRole('heading', { level: 1, name: 'Welcome back' }).waitFor();
  await page.waitForTimeout(300); // a late favicon request
  const bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  await context.close();
  return { requests: paths.length, bytes, paths };
}

export function report({ requests, bytes }) {
  const kb = bytes / 1024;
  const ok = requests <= BUDGET.requests && kb <= BUDGET.kilobytes;
  return {
    ok,
    line: `cold load of the web app: ${requests} requests (budget ${BUDGET.requests}), ${kb.toFixed(1)} KB transferred (budget ${BUDGET.kilobytes} KB) — ${ok ? 'within budget' : 'OVER BUDGET'}`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base = (process.argv[2] || '').replace(/\/$/, '');
  if (!base) {
    console.error('usage: coldload.mjs <base-url>');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: process.env.TD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--no-proxy-server'],
  });
  const m = await measureColdLoad(browser, base);
  await browser.close();
  const r = report(m);
  console.log(r.line);
  console.log(JSON.stringify({ requests: m.requests, bytes: m.bytes, budget: BUDGET, ok: r.ok }));
  process.exit(0); // figures for `make bench`; the test cold_load_budget is what fails
}
