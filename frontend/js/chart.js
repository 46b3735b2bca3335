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

const SERIES = [
  { key: 'positive_entries', label: 'Positive', cls: 'bar-positive' },
  { key: 'neutral_entries', label: 'Neutral', cls: 'bar-neutral' },
  { key: 'negative_entries', label: 'Negative', cls: 'bar-negative' },
];

/** "7 Sep" (or "Sep 2026" for months) for a bucket's local start date. */
export function bucketLabel(start, bucket) {
  const d = new Date(`${start}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return String(start ?? '');
  return bucket === 'month'
    ? d.toLocaleDateString([], { month: 'short', year: 'numeric', timeZone: 'UTC' })
    : d.toLocaleDateString([], { day: 'numeric', month: 'short', timeZone: 'UTC' });
}

/**
 * Tone over time (GET /diaries/stats/timeline): one stacked bar per bucket
 * of positive, neutral and negative entries. Decorative for screen readers
 * (aria-hidden): views/stats.js puts the same figures in a table beside it.
 */
export function timelineChart(points, bucket) {
  const width = 640;
  const height = 240;
  const left = 8;
  const bottom = 28;
  const top = 12;
  const plotH = height - top - bottom;
  const n = Math.max(1, points.length);
  const slot = (width - left * 2) / n;
  const barW = Math.max(2, Math.min(36, slot * 0.7));
  const max = Math.max(1, ...points.map((p) => Number(p.entries) || 0));
  const every = Math.max(1, Math.ceil(n / 8)); // at most ~8 labels under the bars
  const root = svg('svg', {
    class: 'chart timeline-chart',
    viewBox: `0 0 ${width} ${height}`,
    'aria-hidden': 'true',
    focusable: 'false',
    preserveAspectRatio: 'xMinYMin meet',
  });
  root.append(svg('line', { x1: left, x2: width - left, y1: top + plotH, y2: top + plotH, class: 'axis' }));
  points.forEach((p, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    for (const s of SERIES) {
      const v = Number(p[s.key]) || 0;
      if (v === 0) continue;
      const hgt = (v / max) * plotH;
      y -= hgt;
      root.append(svg('rect', { x, y, width: barW, height: hgt, class: `bar ${s.cls}` }));
    }
    if (i % every === 0)
      root.append(
        svg(
          'text',
          { x: x + barW / 2, y: height - 8, class: 'chart-tick', 'text-anchor': 'middle' },
          bucketLabel(p.start, bucket),
        ),
      );
  });
  return root;
}
