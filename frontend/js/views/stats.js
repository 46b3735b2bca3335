// views/stats.js — how the entries feel: the totals (GET /diaries/stats),
// tone over time (GET /diaries/stats/timeline, in the browser's time zone)
// and the most frequent highlighted phrases (GET /diaries/stats/phrases).
// Each section loads on its own, so one failing leaves the others readable.
import * as api from '../api.js';
import { bucketLabel, entriesChart, timelineChart } from '../chart.js';
import { h, loadFailed, uid } from '../dom.js';

const TONE = {
  positive: {
    title: 'Mostly positive',
    text: 'Your entries hold more positive phrases than negative ones. It can help to notice what went well.',
  },
  negative: {
    title: 'Mostly negative',
    text:
      'Your entries hold more negative phrases lately. Noticing that is a first step — ' +
      'be gentle with yourself, and try to question the harshest thoughts.',
  },
  neutral: {
    title: 'Balanced',
    text: 'Positive and negative phrases are in balance in your entries.',
  },
};

const BUCKETS = [
  ['day', 'Days'],
  ['week', 'Weeks'],
  ['month', 'Months'],
];
const BUCKET_NAME = { day: 'Day', week: 'Week of', month: 'Month' };

const num = (v) => String(Number(v) || 0);

function totals(stats) {
  const tone = TONE[stats.overall] || TONE.neutral;
  const empty = !(Number(stats.total_entries) > 0);
  const overall = TONE[stats.overall] ? stats.overall : 'neutral';
  return [
    h(
      'section',
      { class: `card tone tone-${empty ? 'none' : overall}`, 'aria-labelledby': 'tone-title' },
      h('h2', { id: 'tone-title' }, 'Overall tone'),
      h('p', { class: 'tone-value', 'data-overall': overall }, empty ? 'No entries yet' : tone.title),
      h('p', null, empty ? 'Write a first entry and its tone will show here.' : tone.text),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-heading' },
      h('h2', { id: 'chart-heading' }, 'Entries by tone'),
      entriesChart(stats),
      h(
        'dl',
        { class: 'figures' },
        h('div', null, h('dt', null, 'Entries'), h('dd', { 'data-stat': 'total_entries' }, num(stats.total_entries))),
        h(
          'div',
          null,
          h('dt', null, 'Positive'),
          h('dd', { 'data-stat': 'positive_entries' }, num(stats.positive_entries)),
        ),
        h(
          'div',
          null,
          h('dt', null, 'Negative'),
          h('dd', { 'data-stat': 'negative_entries' }, num(stats.negative_entries)),
        ),
        h(
          'div',
          null,
          h('dt', null, 'Neutral'),
          h('dd', { 'data-stat': 'neutral_entries' }, num(stats.neutral_entries)),
        ),
        h(
          'div',
          null,
          h('dt', null, 'Positive phrases'),
          h('dd', { 'data-stat': 'positive_count_total' }, num(stats.positive_count_total)),
        ),
        h(
          'div',
          null,
          h('dt', null, 'Negative phrases'),
          h('dd', { 'data-stat': 'negative_count_total' }, num(stats.negative_count_total)),
        ),
      ),
      h(
        'p',
        { class: 'hint' },
        'An entry counts as positive when it has more positive than negative phrases, ' +
          'negative for the reverse, and neutral when they are equal.',
      ),
    ),
  ];
}

/** The timeline's figures as a table: what screen readers read instead of the chart. */
function timelineTable(data) {
  return h(
    'table',
    { class: 'timeline-table' },
    h('caption', null, `Entries by tone per ${data.bucket}, ${data.tz} time`),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col' }, BUCKET_NAME[data.bucket] || 'Period'),
        h('th', { scope: 'col' }, 'Entries'),
        h('th', { scope: 'col' }, 'Positive'),
        h('th', { scope: 'col' }, 'Neutral'),
        h('th', { scope: 'col' }, 'Negative'),
      ),
    ),
    h(
      'tbody',
      null,
      data.points.map((p) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, h('time', { datetime: p.start }, bucketLabel(p.start, data.bucket))),
          h('td', null, num(p.entries)),
          h('td', null, num(p.positive_entries)),
          h('td', null, num(p.neutral_entries)),
          h('td', null, num(p.negative_entries)),
        ),
      ),
    ),
  );
}

function timelineSection() {
  const body = h('div', { class: 'timeline-body', 'aria-live': 'polite' });
  const name = uid('bucket');
  const radios = BUCKETS.map(([value, label]) => {
    const id = `${name}-${value}`;
    const input = h('input', { type: 'radio', name, id, value, checked: value === 'week' });
    input.addEventListener('change', () => load(value));
    return h('label', { class: 'segment', for: id }, input, h('span', null, label));
  });
  const load = async (bucket) => {
    body.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.timeline(bucket);
    } catch (err) {
      body.replaceChildren(loadFailed(err, () => load(bucket)));
      body.removeAttribute('aria-busy');
      return;
    }
    const points = Array.isArray(data && data.points) ? data.points : [];
    const shaped = { bucket: data.bucket || bucket, tz: data.tz || api.timeZone(), points };
    const any = points.some((p) => Number(p.entries) > 0);
    body.replaceChildren(
      h(
        'p',
        { class: 'hint', 'data-timeline-summary': '' },
        any
          ? `${points.length} ${bucket}s, oldest first, in your time zone (${shaped.tz}).`
          : `No entries in the last ${points.length} ${bucket}s.`,
      ),
      h('div', { class: 'chart-wrap' }, timelineChart(points, shaped.bucket)),
      h(
        'p',
        { class: 'legend', 'aria-hidden': 'true' },
        h('span', { class: 'key key-positive' }, 'Positive'),
        h('span', { class: 'key key-neutral' }, 'Neutral'),
        h('span', { class: 'key key-negative' }, 'Negative'),
      ),
      h('details', { class: 'table-alt' }, h('summary', null, 'Show the figures as a table'), timelineTable(shaped)),
    );
    body.removeAttribute('aria-busy');
  };
  load('week');
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'timeline-title', 'data-section': 'timeline' },
    h('h2', { id: 'timeline-title' }, 'Tone over time'),
    h('fieldset', { class: 'segments' }, h('legend', null, 'Group entries by'), radios),
    body,
  );
}

function phraseList(items, kind) {
  if (!items.length) return h('p', { class: 'hint' }, `No ${kind} phrases yet.`);
  return h(
    'ol',
    { class: `phrases phrases-${kind}` },
    items.map((p) =>
      h(
        'li',
        null,
        h('span', { class: `phrase ${kind}` }, String(p.phrase ?? '')),
        h('span', { class: 'phrase-count' }, `${num(p.count)} ${Number(p.count) === 1 ? 'time' : 'times'}`),
      ),
    ),
  );
}

function phrasesSection() {
  const body = h('div', { class: 'phrases-body' });
  const load = async () => {
    body.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.phrases(10);
    } catch (err) {
      body.replaceChildren(loadFailed(err, load));
      body.removeAttribute('aria-busy');
      return;
    }
    const list = (v) => (Array.isArray(v) ? v.filter((p) => p && typeof p.phrase === 'string') : []);
    body.replaceChildren(
      h(
        'div',
        { class: 'phrase-columns' },
        h('div', null, h('h3', null, 'Positive'), phraseList(list(data.positive), 'positive')),
        h('div', null, h('h3', null, 'Negative'), phraseList(list(data.negative), 'negative')),
      ),
    );
    body.removeAttribute('aria-busy');
  };
  load();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'phrases-title', 'data-section': 'phrases' },
    h('h2', { id: 'phrases-title' }, 'Recurring phrases'),
    h('p', { class: 'hint' }, 'The phrases the diary highlighted most often.'),
    body,
  );
}

export async function render(view, ctx) {
  document.title = 'Insights · Thought Diary';
  const body = h('div', { class: 'stats', 'aria-busy': 'true' });
  view.append(
    h(
      'div',
      { class: 'intro' },
      h('h1', { tabindex: '-1' }, 'Insights'),
      h('p', { class: 'lede' }, 'How your entries feel, counted from the phrases the diary highlighted.'),
    ),
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
  body.replaceChildren(...totals(stats), timelineSection(), phrasesSection());
  body.removeAttribute('aria-busy');
}
