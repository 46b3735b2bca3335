// views/search.js — the diary's search box and filters (words, tone, date
// range) and the hash URL that carries them (#/diary?q=walk&tone=positive&
// from=2026-01-01&to=2026-01-31&page=2), per the filters of GET /diaries
// (gateway/docs/openapi.json). The marking of found words is sanitize.js's.
import { announce, h } from '../dom.js';

const TONES = [
  ['', 'Any tone'],
  ['positive', 'Positive'],
  ['negative', 'Negative'],
  ['neutral', 'Neutral'],
];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The filters in the view's params; anything malformed is left out. */
export function readFilters(params) {
  const q = (params.get('q') || '').trim().slice(0, 200);
  const tone = TONES.some(([v]) => v && v === params.get('tone')) ? params.get('tone') : '';
  const from = DATE.test(params.get('from') || '') ? params.get('from') : '';
  const to = DATE.test(params.get('to') || '') ? params.get('to') : '';
  return { q, tone, from, to, active: Boolean(q || tone || from || to) };
}

/** The diary's hash for these filters at page `page`. */
export function filterHash(filters, page) {
  const p = new URLSearchParams();
  for (const key of ['q', 'tone', 'from', 'to']) if (filters[key]) p.set(key, filters[key]);
  if (page > 1) p.set('page', String(page));
  const qs = p.toString();
  return qs ? `#/diary?${qs}` : '#/diary';
}

/** The words to mark in entries: the query's terms, punctuation dropped as the server does. */
export function searchTerms(q) {
  return (q || '')
    .split(/\s+/u)
    .map((t) => t.replace(/[^\p{L}\p{N}]+/gu, ''))
    .filter(Boolean);
}

/** The line above the list: how many entries there are, or match. */
export function summaryText(data, filters) {
  const total = Number(data.total) || 0;
  const pages = Math.max(1, Number(data.pages) || 0);
  const count = total === 1 ? '1 entry' : `${total} entries`;
  if (filters.active) {
    const matches = total === 1 ? '1 entry matches' : `${total} entries match`;
    return total > 0 ? `${matches} · page ${data.page} of ${pages}` : matches;
  }
  return total === 0 ? '' : `${count} · page ${data.page} of ${pages} · newest first`;
}

/**
 * The search form. `onApply(filters)` runs with the new filters on
 * "Search" and with none on "Clear".
 */
export function searchForm(filters, onApply) {
  const q = h('input', {
    type: 'search',
    id: 'search-q',
    name: 'q',
    value: filters.q,
    maxlength: '200',
    autocomplete: 'off',
  });
  const tone = h(
    'select',
    { id: 'search-tone', name: 'tone' },
    TONES.map(([value, label]) => h('option', { value, selected: value === filters.tone }, label)),
  );
  const from = h('input', { type: 'date', id: 'search-from', name: 'from', value: filters.from });
  const to = h('input', { type: 'date', id: 'search-to', name: 'to', value: filters.to });
  const error = h('p', { class: 'field-error', id: 'search-error' });
  const form = h(
    'form',
    { class: 'card form search', role: 'search', 'aria-labelledby': 'search-title', novalidate: true },
    h('h2', { id: 'search-title', class: 'search-title' }, 'Find entries'),
    h(
      'div',
      { class: 'search-row' },
      h('div', { class: 'field grow' }, h('label', { for: 'search-q' }, 'Words'), q),
      h('div', { class: 'field' }, h('label', { for: 'search-tone' }, 'Tone'), tone),
    ),
    h(
      'div',
      { class: 'search-row' },
      h('div', { class: 'field' }, h('label', { for: 'search-from' }, 'From'), from),
      h('div', { class: 'field' }, h('label', { for: 'search-to' }, 'Until (inclusive)'), to),
    ),
    error,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'button' }, 'Search'),
      filters.active
        ? h('button', { type: 'button', class: 'button button-quiet', onclick: () => onApply({}) }, 'Clear search')
        : null,
    ),
  );
  for (const input of [from, to]) input.setAttribute('aria-describedby', 'search-error');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    from.removeAttribute('aria-invalid');
    if (from.value && to.value && from.value > to.value) {
      error.textContent = 'The start date is after the end date.';
      from.setAttribute('aria-invalid', 'true');
      from.focus();
      announce(error.textContent, { assertive: true });
      return;
    }
    onApply({ q: q.value.trim(), tone: tone.value, from: from.value, to: to.value });
  });
  return form;
}
