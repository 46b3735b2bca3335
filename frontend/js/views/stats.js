// views/stats.js — how the entries feel, from GET /diaries/stats.
import * as api from '../api.js';
import { entriesChart } from '../chart.js';
import { h, loadFailed } from '../dom.js';

const TONE = {
  positive: {
    title: 'Mostly positive',
    text: 'Your entries hold more positive phrases than negative ones. It can help to notice what went well.',
  },
  negative: {
    title: 'Mostly negative',
    text: 'Your entries hold more negative phrases lately. Noticing that is a first step — be gentle with yourself, and try to question the harshest thoughts.',
  },
  neutral: {
    title: 'Balanced',
    text: 'Positive and negative phrases are in balance in your entries.',
  },
};

export async function render(view, ctx) {
  document.title = 'Insights · Thought Diary';
  const body = h('div', { class: 'stats', 'aria-busy': 'true' });
  view.append(
    h('div', { class: 'intro' },
      h('h1', { tabindex: '-1' }, 'Insights'),
      h('p', { class: 'lede' }, 'How your entries feel, counted from the phrases the diary highlighted.')),
    body,
  );
  let stats;
  try {
    stats = await api.stats();
  } catch (err) {
    body.replaceChildren(loadFailed(err, () => ctx.reload()));
    body.removeAttribute('aria-busy');
    return;
  }
  const tone = TONE[stats.overall] || TONE.neutral;
  const empty = stats.total_entries === 0;
  body.replaceChildren(
    h('section', { class: `card tone tone-${empty ? 'none' : stats.overall}`, 'aria-labelledby': 'tone-title' },
      h('h2', { id: 'tone-title' }, 'Overall tone'),
      h('p', { class: 'tone-value', 'data-overall': stats.overall }, empty ? 'No entries yet' : tone.title),
      h('p', null, empty ? 'Write a first entry and its tone will show here.' : tone.text)),
    h('section', { class: 'card', 'aria-labelledby': 'chart-heading' },
      h('h2', { id: 'chart-heading' }, 'Entries by tone'),
      entriesChart(stats),
      h('dl', { class: 'figures' },
        h('div', null, h('dt', null, 'Entries'), h('dd', { 'data-stat': 'total_entries' }, String(stats.total_entries))),
        h('div', null, h('dt', null, 'Positive'), h('dd', { 'data-stat': 'positive_entries' }, String(stats.positive_entries))),
        h('div', null, h('dt', null, 'Negative'), h('dd', { 'data-stat': 'negative_entries' }, String(stats.negative_entries))),
        h('div', null, h('dt', null, 'Neutral'), h('dd', { 'data-stat': 'neutral_entries' }, String(stats.neutral_entries))),
        h('div', null, h('dt', null, 'Positive phrases'), h('dd', { 'data-stat': 'positive_count_total' }, String(stats.positive_count_total))),
        h('div', null, h('dt', null, 'Negative phrases'), h('dd', { 'data-stat': 'negative_count_total' }, String(stats.negative_count_total)))),
      h('p', { class: 'hint' }, 'An entry counts as positive when it has more positive than negative phrases, negative for the reverse, and neutral when they are equal.')),
  );
  body.removeAttribute('aria-busy');
}
