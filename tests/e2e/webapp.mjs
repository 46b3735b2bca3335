// webapp.mjs — end-to-end tests of the web app in Debian's chromium,
// driven by playwright-core against a real stack (started by
// tests/integration/test_webapp.c, which passes its base URL).
//
//   node tests/e2e/webapp.mjs <base-url> [screenshot-dir] [test-name...]
//   (or TD_BASE_URL, TD_SCREENSHOT_DIR, TD_CHROMIUM in the environment)
//
// Prints one "ok"/"not ok" line per test and exits non-zero when any failed.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const BASE = (process.argv[2] || process.env.TD_BASE_URL || '').replace(/\/$/, '');
const SHOTS = process.argv[3] || process.env.TD_SCREENSHOT_DIR || '';
const ONLY = process.argv.slice(4);
const CHROMIUM = process.env.TD_CHROMIUM || '/usr/bin/chromium';
if (!BASE) {
  console.error('usage: webapp.mjs <base-url> [screenshot-dir] [test...]');
  process.exit(2);
}

const PASSWORD = 'Quiet-Lake-2026!';
const TIMEOUT = 15000;
let seq = 0;
let pages = []; // the current test's pages, screenshotted when it fails
const newEmail = (tag) => `e2e-${tag}-${process.pid}-${Date.now()}-${++seq}@example.com`;

// ---- helpers -----------------------------------------------------------

async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, headers: res.headers, text };
}

async function apiUser(tag) {
  const email = newEmail(tag);
  assert.equal((await api('POST', '/auth/register', { body: { email, password: PASSWORD } })).status, 201);
  const login = await api('POST', '/auth/login', { body: { email, password: PASSWORD } });
  assert.equal(login.status, 200);
  return { email, access: login.json.access_token };
}

/** A fresh browser context and page that records anything going wrong. */
async function openPage(browser, { width = 1024, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  pages.push(page);
  page.setDefaultTimeout(TIMEOUT);
  page.problems = [];
  page.dialogs = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    // A deliberate 4xx/5xx shows as a console "Failed to load resource" line.
    if (msg.type() === 'error' && !/Failed to load resource/.test(text)) page.problems.push(`console: ${text}`);
    if (/Content Security Policy/i.test(text)) page.problems.push(`CSP: ${text}`);
  });
  page.on('dialog', async (dialog) => {
    page.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  return { context, page };
}

async function expectNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors or CSP violations');
  assert.deepEqual(page.dialogs, [], 'a dialog opened');
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function logIn(page, email, password = PASSWORD) {
  await page.goto(`${BASE}/#/login`);
  await heading(page, 'Welcome back');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await heading(page, 'Your diary');
}

async function writeEntry(page, text) {
  const before = await page.locator('.entry').count();
  await page.getByLabel("What's on your mind?").fill(text);
  await page.getByRole('button', { name: 'Save entry' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('.entry').length > n || document.querySelectorAll('.entry').length === 10, before);
  await page.locator('.entry').first().waitFor();
}

/** The text a sighted reader sees in `locator` (without screen-reader-only text). */
function seenText(locator) {
  return locator.evaluate((el) => {
    const copy = el.cloneNode(true);
    for (const sr of copy.querySelectorAll('.sr-only')) sr.remove();
    return copy.textContent;
  });
}

async function statValues(page) {
  await page.goto(`${BASE}/#/stats`);
  await heading(page, 'Insights');
  await page.locator('[data-stat="total_entries"]').waitFor();
  return page.evaluate(() => {
    const out = {};
    for (const dd of document.querySelectorAll('[data-stat]')) out[dd.dataset.stat] = Number(dd.textContent);
    out.overall = document.querySelector('[data-overall]').dataset.overall;
    return out;
  });
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.mouse.move(1, 1); // no hover effect in the picture
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

// ---- the tests ---------------------------------------------------------

const tests = {};

tests.static_files_and_headers = async () => {
  const index = await api('GET', '/');
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const csp = index.headers.get('content-security-policy');
  for (const part of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"])
    assert.ok(csp.includes(part), `CSP lacks ${part}: ${csp}`);
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(index.text), 'index.html has an inline script');
  assert.ok(!/\sstyle=|<style/i.test(index.text), 'index.html has inline style');
  const css = await api('GET', '/app/app.css');
  assert.equal(css.status, 200);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.match(css.headers.get('cache-control'), /max-age=\d+/);
  const etag = css.headers.get('etag');
  assert.ok(etag, 'no ETag');
  assert.ok(css.headers.get('last-modified'));
  const again = await fetch(`${BASE}/app/app.css`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const js = await api('GET', '/app/js/main.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const icon = await api('GET', '/app/favicon.svg');
  assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
  for (const bad of ['/app/', '/app/js', '/app/js/', '/app/../README.md', '/app/%2e%2e/README.md', '/app/js%2fmain.js',
    '/app/.gitignore', '/app/js/..%2f..%2fREADME.md', '/app/..\\README.md', '/app/%00', '/app/nope.css', '/index.html', '/app/README'])
    assert.equal((await api('GET', bad)).status, 404, bad);
  // the API beside it is untouched
  assert.equal((await api('GET', '/health')).status, 200);
  assert.equal((await api('GET', '/nope')).status, 404);
  assert.equal((await api('POST', '/')).status, 405);
};

tests.sanitizer_keeps_only_the_two_spans = async (browser) => {
  const { context, page } = await openPage(browser);
  const fetched = [];
  page.on('request', (req) => fetched.push(new URL(req.url()).pathname));
  await page.goto(`${BASE}/`);
  await heading(page, 'Welcome back');
  const r = await page.evaluate(async () => {
    const { runsOf, highlighted } = await import('/app/js/sanitize.js');
    const render = (html, content) => {
      const div = document.createElement('div');
      div.append(highlighted(html, content));
      return { html: div.innerHTML, spans: div.querySelectorAll('span.positive, span.negative').length, imgs: div.querySelectorAll('img, script, a').length };
    };
    return {
      good: render('I felt <span class="positive">happy</span> &amp; &lt;b&gt; <span class="negative">sad</span>', 'I felt happy & <b> sad'),
      hostile: runsOf('<span class="positive" onclick="x()">a</span><img src=x onerror="window.__xss=1"><script>window.__xss=2</script><span class="negative">b</span><a href="javascript:1">c</a>'),
      fallback: render('<b>x</b><span class="positive">y</span>', 'something else'),
      xss: window.__xss === undefined,
    };
  });
  await page.waitForTimeout(200);
  assert.equal(r.good.spans, 2);
  assert.equal(r.good.imgs, 0);
  assert.ok(r.good.html.includes('&amp; &lt;b&gt;'), r.good.html);
  assert.ok(r.good.html.includes('<span class="sr-only"> (positive)</span>'), 'screen-reader text');
  assert.deepEqual(r.hostile, [{ kind: null, text: 'a' }, { kind: 'negative', text: 'b' }, { kind: null, text: 'c' }]);
  assert.equal(r.fallback.spans, 0);
  // Chromium reports a CSP violation when its parser meets an inline event
  // handler attribute, even in an inert document where it can never run:
  // expected here (the markup is hostile on purpose); window.__xss shows
  // nothing ran and no request went out for the image.
  page.problems = page.problems.filter((p) => !/inline event handler/.test(p));
  assert.ok(!fetched.includes('/x'), 'the image was loaded');
  assert.equal(r.fallback.html, 'something else');
  assert.ok(r.xss, 'parsing ran a script');
  await expectNoProblems(page);
  await context.close();
};

tests.journey = async (browser) => {
  const { context, page } = await openPage(browser);
  const email = newEmail('journey');

  // register, with the password rules shown live
  await page.goto(`${BASE}/`);
  await heading(page, 'Welcome back');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await heading(page, 'Create your account');
  await page.getByLabel('Email').fill(email);
  const pw = page.getByLabel('Password', { exact: true });
  await pw.pressSequentially('abc');
  assert.equal(await page.locator('.rule.met').count(), 1, 'only "lower-case" is met by abc');
  assert.equal(await page.locator('.rule[data-rule="lower"].met').count(), 1);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('[data-error-for="password"]', { hasText: 'every rule' }).waitFor();
  await pw.fill(PASSWORD);
  await pw.dispatchEvent('input');
  assert.equal(await page.locator('.rule.met').count(), 5);
  await shot(page, 'register.png');
  await page.getByRole('button', { name: 'Create account' }).click();

  // log in (the email is filled in already)
  await heading(page, 'Welcome back');
  await page.getByText('Your account is ready').waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await heading(page, 'Your diary');
  await page.getByText('No entries yet.').waitFor();

  // write an entry with a positive and a negative phrase: both highlighted
  await writeEntry(page, 'I felt happy with my progress but worried about tomorrow');
  const first = page.locator('.entry').first();
  await first.locator('.entry-text span.positive', { hasText: 'happy' }).waitFor({ state: 'visible' });
  await first.locator('.entry-text span.negative', { hasText: 'worried' }).waitFor({ state: 'visible' });
  assert.equal(await seenText(first.locator('.entry-text')), 'I felt happy with my progress but worried about tomorrow');
  assert.match(await first.locator('span.negative .sr-only').first().textContent(), /negative/);

  const before = await statValues(page);
  assert.equal(before.total_entries, 1);
  assert.ok(before.positive_count_total >= 1 && before.negative_count_total >= 1, JSON.stringify(before));

  // edit it into a clearly negative one: the highlights and the stats follow
  await page.getByRole('link', { name: 'Diary', exact: true }).click();
  await heading(page, 'Your diary');
  await page.locator('.entry').first().getByRole('button', { name: 'Edit' }).click();
  const editBox = page.getByLabel('Edit entry');
  assert.equal(await editBox.inputValue(), 'I felt happy with my progress but worried about tomorrow');
  await editBox.fill('Today I felt sad and worried about everything.');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.locator('.entry').first().locator('span.negative', { hasText: 'sad' }).waitFor();
  assert.equal(await page.locator('.entry').first().locator('span.positive').count(), 0);
  await page.locator('.entry').first().getByText(/^edited /).waitFor();

  const after = await statValues(page);
  assert.equal(after.total_entries, 1);
  assert.equal(after.negative_entries, 1);
  assert.equal(after.positive_entries, 0);
  assert.equal(after.positive_count_total, 0);
  assert.equal(after.overall, 'negative');
  assert.notDeepEqual(after, before);
  await page.locator('.tone-value', { hasText: 'Mostly negative' }).waitFor();
  assert.equal(await page.locator('svg.chart rect.bar-negative').count(), 1);

  // reload keeps the session (and the view)
  await page.reload();
  await heading(page, 'Insights');
  await page.locator('[data-stat="negative_entries"]', { hasText: '1' }).waitFor();

  // a few more entries, then the screenshots
  await page.getByRole('link', { name: 'Diary', exact: true }).click();
  await heading(page, 'Your diary');
  await writeEntry(page, 'Had a calm walk by the river after work. I felt grateful for the quiet and the good company.');
  await writeEntry(page, 'The meeting was stressful and I felt anxious, but my friend was kind and I am hopeful about next week.');
  await writeEntry(page, 'Slept well. Made pancakes and read a chapter of my book.');
  assert.equal(await page.locator('.entry').count(), 4);
  assert.match(await page.locator('.entry').first().innerText(), /pancakes/, 'newest first');
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await shot(page, 'diary.png');
  const stats = await statValues(page);
  assert.equal(stats.total_entries, 4);
  await shot(page, 'stats.png');

  // phone width: nothing overflows sideways
  await page.setViewportSize({ width: 375, height: 812 });
  await page.getByRole('link', { name: 'Diary', exact: true }).click();
  await heading(page, 'Your diary');
  await page.locator('.entry').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 375, `page is ${overflow}px wide at 375px`);
  await shot(page, 'diary-375.png');
  await page.setViewportSize({ width: 1024, height: 900 });

  // delete with confirmation: "Keep it" keeps it, "Yes, delete it" deletes
  const target = page.locator('.entry', { hasText: 'pancakes' });
  await target.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Delete this entry?').waitFor();
  await page.getByRole('button', { name: 'Keep it' }).click();
  assert.equal(await page.locator('.entry').count(), 4);
  await target.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Yes, delete it' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.entry').length === 3);
  assert.equal(await page.locator('.entry', { hasText: 'pancakes' }).count(), 0);

  // log out, log back in
  await page.getByRole('button', { name: 'Log out' }).click();
  await heading(page, 'Welcome back');
  await page.getByText('You have logged out').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'tokens forgotten');
  await page.goto(`${BASE}/#/diary`);
  await heading(page, 'Welcome back'); // protected views need a session
  await logIn(page, email);
  // the heading shows before the list has loaded: wait for the entries
  await page.waitForFunction(() => document.querySelectorAll('.entry').length === 3);
  assert.equal(await page.locator('.entry').count(), 3);

  // change password: a wrong current password shows the server's message
  await page.getByRole('link', { name: 'Account', exact: true }).click();
  await heading(page, 'Account');
  await page.locator('.email', { hasText: email }).waitFor();
  const NEW_PASSWORD = 'Gentle-Rain-7?';
  await page.getByLabel('Current password').fill('Wrong-Password-1!');
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('.form-error', { hasText: /invalid/i }).first().waitFor();
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await heading(page, 'Welcome back');
  await page.getByText('Your password was changed').waitFor();
  await logIn(page, email, NEW_PASSWORD);

  // delete the account: password re-check and a clear warning
  await page.getByRole('link', { name: 'Account', exact: true }).click();
  await heading(page, 'Account');
  await page.getByText('This permanently deletes your account').waitFor();
  await page.getByLabel('Your password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await page.locator('[data-error-for="understand"]', { hasText: 'tick' }).waitFor();
  await page.getByLabel('I understand').check();
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await heading(page, 'Welcome back');
  await page.getByText('Your account and all its entries were deleted').waitFor();

  // the account is gone: logging in shows the server's message by the form
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  const err = page.locator('.form-error');
  await err.waitFor({ state: 'visible' });
  const login = await api('POST', '/auth/login', { body: { email, password: NEW_PASSWORD } });
  assert.equal(login.status, 401);
  assert.equal(await err.innerText(), login.json.message);
  await expectNoProblems(page);
  await context.close();
};

tests.entry_markup_is_shown_as_text = async (browser) => {
  const { context, page } = await openPage(browser);
  const user = await apiUser('xss');
  await context.addInitScript(() => {
    window.__xss = false;
    window.alert = () => {
      window.__xss = true;
    };
  });
  const fetched = [];
  page.on('request', (req) => fetched.push(new URL(req.url()).pathname));
  await logIn(page, user.email);
  const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script><svg onload=alert(3)>'];
  for (const payload of payloads) await writeEntry(page, payload);
  for (const [i, payload] of payloads.reverse().entries())
    assert.equal(await seenText(page.locator('.entry-text').nth(i)), payload, 'shown literally');
  await page.reload();
  await heading(page, 'Your diary');
  await page.locator('.entry').nth(1).waitFor();
  await page.waitForTimeout(300);
  assert.equal(await page.locator('.entry-list img, .entry-list script, .entry-list svg').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), false, 'a script ran');
  assert.ok(!fetched.includes('/x'), 'the image was loaded');
  await expectNoProblems(page);
  await context.close();
};

tests.errors_retry_and_sessions = async (browser) => {
  const { context, page } = await openPage(browser);
  const user = await apiUser('errors');

  // 429: the server's message and when to try again
  await page.route('**/auth/login', (route) =>
    route.fulfill({
      status: 429,
      headers: { 'Retry-After': '120', 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: 'rate_limit_exceeded', message: 'Too many requests. Please try again later.' }),
    }));
  await page.goto(`${BASE}/#/login`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('.form-error', { hasText: 'Too many requests. Please try again later. You can try again in 2 minutes' }).waitFor();
  await page.unroute('**/auth/login');
  await page.getByRole('button', { name: 'Log in' }).click();
  await heading(page, 'Your diary');

  // validation details land next to their field
  await page.route('**/diaries', (route) =>
    route.request().method() === 'POST'
      ? route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'validation_error', message: 'Invalid input.', details: { content: ['Too long, says the server.'] } }) })
      : route.fallback());
  await page.getByLabel("What's on your mind?").fill('hello');
  await page.getByRole('button', { name: 'Save entry' }).click();
  await page.locator('[data-error-for="content"]', { hasText: 'Too long, says the server.' }).waitFor();
  await page.locator('.form-error', { hasText: 'Invalid input.' }).waitFor();
  await page.unroute('**/diaries');

  // a down backend: a banner with a retry, never a blank page
  await page.route('**/diaries?*', (route) =>
    route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'service_unavailable', message: 'The diary service is unavailable.' }) }));
  await page.goto(`${BASE}/#/diary?page=1`);
  await page.locator('#banner').waitFor({ state: 'visible' });
  await page.locator('.notice-error', { hasText: 'The diary service is unavailable.' }).waitFor();
  assert.equal(await page.getByLabel("What's on your mind?").inputValue(), 'hello', 'the draft survives');
  await page.unroute('**/diaries?*');
  await page.route('**/diaries/stats', (route) => route.abort('connectionrefused'));
  await page.getByRole('link', { name: 'Insights', exact: true }).click();
  await page.locator('.notice-error', { hasText: "couldn't reach" }).waitFor();
  await page.unroute('**/diaries/stats');
  await page.getByRole('button', { name: 'Try again' }).first().click();
  await page.locator('[data-stat="total_entries"]').waitFor();
  await page.locator('#banner').waitFor({ state: 'hidden' });

  // an unusable access token is replaced using the rotating refresh token
  const old = await page.evaluate(() => JSON.parse(sessionStorage.getItem('thought-diary.session')));
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('thought-diary.session'));
    s.access = `${s.access.slice(0, -4)}AAAA`;
    sessionStorage.setItem('thought-diary.session', JSON.stringify(s));
  });
  await page.reload();
  await heading(page, 'Insights');
  await page.locator('[data-stat="total_entries"]').waitFor();
  const rotated = await page.evaluate(() => JSON.parse(sessionStorage.getItem('thought-diary.session')));
  assert.notEqual(rotated.refresh, old.refresh, 'refresh token rotated');

  // the tokens revoked elsewhere: back to login with a message
  assert.equal((await api('POST', '/auth/logout', { token: rotated.access, body: { refresh_token: rotated.refresh } })).status, 200);
  await page.getByRole('link', { name: 'Diary', exact: true }).click();
  await heading(page, 'Welcome back');
  await page.locator('.notice-warning', { hasText: 'Your session was ended' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  // a failed refresh (token reused = revoked) ends the session too
  await logIn(page, user.email);
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('thought-diary.session'));
    s.access = 'not-a-token';
    sessionStorage.setItem('thought-diary.session', JSON.stringify(s));
  });
  const s = await page.evaluate(() => JSON.parse(sessionStorage.getItem('thought-diary.session')));
  assert.equal((await api('POST', '/auth/refresh', { token: s.refresh })).status, 200); // now s.refresh is used up
  await page.reload(); // the app reads the tokens back from sessionStorage
  await heading(page, 'Welcome back');
  await page.locator('.notice-warning', { hasText: /session/ }).waitFor();
  await context.close();
};

tests.paging_newest_first = async (browser) => {
  const { context, page } = await openPage(browser);
  const user = await apiUser('paging');
  for (let i = 1; i <= 12; i++)
    assert.equal((await api('POST', '/diaries', { token: user.access, body: { content: `Entry number ${i}` } })).status, 201);
  await logIn(page, user.email);
  await page.getByText('12 entries · page 1 of 2').waitFor();
  assert.equal(await page.locator('.entry').count(), 10);
  assert.equal(await seenText(page.locator('.entry-text').first()), 'Entry number 12');
  await page.getByRole('link', { name: 'Older →' }).click();
  await page.getByText('Page 2 of 2', { exact: true }).waitFor();
  assert.equal(await page.locator('.entry').count(), 2);
  assert.equal(await seenText(page.locator('.entry-text').last()), 'Entry number 1');
  // keyboard: Tab reaches the pager link, Enter follows it
  const newer = page.getByRole('link', { name: '← Newer' });
  await newer.focus();
  await page.keyboard.press('Enter');
  await page.getByText('Page 1 of 2', { exact: true }).waitFor();
  await expectNoProblems(page);
  await context.close();
};

// ---- runner ------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // playwright-core gives every launch a fresh temporary profile
  // (--user-data-dir), removed when the browser closes.
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--no-proxy-server'],
});
let failed = 0;
let ran = 0;
for (const [name, fn] of Object.entries(tests)) {
  if (ONLY.length && !ONLY.includes(name)) continue;
  ran++;
  const started = Date.now();
  try {
    await fn(browser);
    console.log(`ok ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`not ok ${name}: ${err && err.stack ? err.stack : err}`);
    for (const [i, page] of pages.entries()) {
      if (page.isClosed()) continue;
      console.log(`  page ${i}: ${page.url()} problems: ${JSON.stringify(page.problems)}`);
      await shot(page, `failed-${name}-${i}.png`).catch(() => {});
    }
  }
  pages = [];
}
await browser.close();
console.log(`${ran - failed} of ${ran} web app tests passed`);
process.exit(failed || ran === 0 ? 1 : 0);
