// chart.js — the stats chart: an inline SVG bar chart drawn here, no library.
import { svg, uid } from './dom.js';

const BARS = [
  { key: 'positive_entries', label: 'Positive', cls: 'bar-positive' },
  { key: 'negative_entries', label: 'Negative', cls: 'bar-negative' },
  { key: 'neutral_entries', label: 'Neutral', cls: 'bar-neutral' },
];

/** Horizontal bars of positive / negative / neutral entries, labelled. */
export function entriesChart(stats) {
  const width = 400;
  const rowH = 44;
  const labelW = 96;
  const valueW = 44;
  const top = 8;
  const height = top * 2 + rowH * BARS.length;
  const max = Math.max(1, ...BARS.map((b) => Number(stats[b.key]) || 0));
  const span = width - labelW - valueW;
  const titleId = uid('chart-title');
  const descId = uid('chart-desc');
  const total = Number(stats.total_entries) || 0;
  const desc = BARS.map((b) => `${b.label}: ${Number(stats[b.key]) || 0}`).join(', ');
  const root = svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
      preserveAspectRatio: 'xMinYMin meet',
    },
    svg('title', { id: titleId }, 'Entries by tone'),
    svg('desc', { id: descId }, `${total} entries. ${desc}.`),
  );
  BARS.forEach((b, i) => {
    const value = Number(stats[b.key]) || 0;
    const y = top + i * rowH;
    const w = value === 0 ? 0 : Math.max(4, (value / max) * span);
    root.append(
      svg('text', { x: 0, y: y + rowH / 2, class: 'chart-label', 'dominant-baseline': 'middle' }, b.label),
      svg('rect', { x: labelW, y: y + 8, width: span, height: rowH - 16, rx: 6, class: 'bar-track' }),
      svg('rect', { x: labelW, y: y + 8, width: w, height: rowH - 16, rx: 6, class: `bar ${b.cls}` }),
      svg(
        'text',
        { x: labelW + span + 10, y: y + rowH / 2, class: 'chart-value', 'dominant-baseline': 'middle' },
        String(value),
      ),
    );
  });
  return root;
}
