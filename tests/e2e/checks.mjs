// checks.mjs — what tests/e2e/webapp.mjs asserts on every view state:
// axe-core (pinned in package.json) in light and dark mode, no stray text
// ("null", "undefined", "NaN", "[object Object]", "Invalid Date"), focus
// never on <body>, and 44 px tap targets.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on the page as it is, in light and then dark mode, and
 * fails on any violation. axe is evaluated through the DevTools protocol,
 * which the page's CSP (script-src 'self') does not govern, so the app's
 * own CSP stays on during the test.
 */
export async function expectAccessible(page, state) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  await page.mouse.move(1, 1); // no hover colours in the measurement
  await page.waitForTimeout(250); // nor a colour transition (app.css) still running
  for (const colorScheme of ['light', 'dark']) {
    // reducedMotion: the app's colour transitions (app.css) would otherwise
    // be measured half-way between the two schemes.
    await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `axe-core found violations on "${state}" in ${colorScheme} mode`);
  }
  await page.emulateMedia({ colorScheme: null, reducedMotion: null });
}

/** Fails when the page shows a value that was never meant as text. */
export async function expectNoStrayText(page, state) {
  const found = await page.evaluate(() => {
    const bad = /\b(null|undefined|NaN)\b|\[object Object\]|Invalid Date/;
    const texts = [['title', document.title], ['body', document.body.innerText]];
    for (const el of document.querySelectorAll('*')) {
      for (const a of ['aria-label', 'title', 'placeholder', 'alt', 'href', 'src', 'datetime', 'value', 'aria-labelledby', 'aria-describedby', 'id', 'class']) {
        const v = el.getAttribute(a);
        if (v) texts.push([`${el.localName}[${a}]`, v]);
      }
      if ('value' in el && typeof el.value === 'string' && el.value) texts.push([`${el.localName}.value`, el.value]);
    }
    // sr-only text is in innerText too, but check it explicitly for clarity
    for (const el of document.querySelectorAll('.sr-only')) texts.push(['sr-only', el.textContent]);
    return texts.filter(([, t]) => bad.test(t)).map(([where, t]) => `${where}: ${t.slice(0, 120)}`);
  });
  assert.deepEqual(found, [], `stray text on "${state}"`);
}

/** Every aria-labelledby / aria-describedby / aria-controls / label[for] names an element that exists. */
export async function expectNoDanglingReferences(page, state) {
  const dangling = await page.evaluate(() => {
    const out = [];
    for (const attr of ['aria-labelledby', 'aria-describedby', 'aria-controls']) {
      for (const el of document.querySelectorAll(`[${attr}]`)) {
        for (const id of el.getAttribute(attr).split(/\s+/).filter(Boolean))
          if (!document.getElementById(id)) out.push(`${el.localName}[${attr}=${id}]`);
      }
    }
    for (const label of document.querySelectorAll('label[for]'))
      if (!document.getElementById(label.htmlFor)) out.push(`label[for=${label.htmlFor}]`);
    return out;
  });
  assert.deepEqual(dangling, [], `references to missing elements on "${state}"`);
}

/** The whole per-state audit: stray text, dangling references, axe in both modes. */
export async function audit(page, state) {
  await expectNoStrayText(page, state);
  await expectNoDanglingReferences(page, state);
  await expectAccessible(page, state);
}

/** Fails when focus sits on <body> (or nowhere) after `action`. */
export async function expectFocusKept(page, action) {
  const where = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    return `${el.localName}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''} "${(el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 60)}"`;
  });
  assert.ok(where, `focus dropped to <body> after ${action}`);
  return where;
}

/** Every visible element matching `selector` is at least 44 × 44 CSS px. */
export async function expectTapTargets(page, selector, state) {
  const small = await page.evaluate((sel) => {
    const out = [];
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not shown
      if (r.width < 44 || r.height < 44) out.push(`${el.localName} "${(el.textContent || '').trim().slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
    return out;
  }, selector);
  assert.deepEqual(small, [], `tap targets under 44 px on "${state}"`);
}
