// sanitize.js — analyzed_content to DOM nodes, defence in depth.
//
// The server promises analyzed_content is escaped text plus only
// <span class="positive|negative"> around phrases (gateway/docs/openapi.json). The app
// trusts that promise no further than it must: the markup is parsed in an
// inert document (DOMParser: no scripts run, no images load), then rebuilt
// from scratch — text nodes via textContent and, for a span whose class is
// exactly "positive" or "negative", a fresh <span> with that class. Any other
// element is reduced to its text, attributes are never copied. Finally the
// plain text must equal the entry's `content`; if it does not, the content
// is shown as plain text without highlights.

const KINDS = new Set(['positive', 'negative']);
const DROP = new Set(['script', 'style', 'template', 'noscript', 'iframe', 'object']);

/** Parses `html` inertly into a list of {kind, text} runs (kind null = plain). */
export function runsOf(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${String(html)}`, 'text/html');
  const runs = [];
  const push = (kind, text) => {
    if (!text) return;
    const last = runs[runs.length - 1];
    if (last && last.kind === kind && kind === null) last.text += text;
    else runs.push({ kind, text });
  };
  for (const node of doc.body.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      push(null, node.nodeValue);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      if (DROP.has(node.localName)) continue; // never text the server meant
      const cls = node.getAttribute('class');
      const ok = node.localName === 'span' && KINDS.has(cls) && node.attributes.length === 1;
      push(ok ? cls : null, node.textContent);
    }
    // comments, processing instructions: dropped
  }
  return runs;
}

const LABEL = { positive: 'positive', negative: 'negative' };

/**
 * A pattern finding `terms` as a word or the start of a word,
 * case-insensitively, as GET /diaries?q= matches them; null for no terms.
 */
export function termPattern(terms) {
  const words = (terms || []).filter(Boolean).sort((a, b) => b.length - a.length);
  if (words.length === 0) return null;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join('|')})`, 'giu');
}

/** Appends `text` to `parent` as text nodes, with each match of `pattern` in a <mark>. */
function appendMarked(parent, text, pattern) {
  if (!pattern) {
    parent.append(document.createTextNode(text));
    return;
  }
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    if (m[0].length === 0) continue;
    if (m.index > at) parent.append(document.createTextNode(text.slice(at, m.index)));
    const mark = document.createElement('mark');
    mark.textContent = m[0];
    parent.append(mark);
    at = m.index + m[0].length;
  }
  if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
}

/**
 * A DocumentFragment showing `analyzed` with highlighted phrases; `content`
 * (the plain entry) is the fallback. Each highlight carries screen-reader
 * text and a CSS marker, so colour is never the only signal. `terms` (the
 * searched words) are marked with <mark> inside the runs, after the markup
 * was rebuilt: searching never changes what the sanitiser lets through.
 */
export function highlighted(analyzed, content, terms = []) {
  const pattern = termPattern(terms);
  const frag = document.createDocumentFragment();
  let runs = runsOf(analyzed);
  if (typeof content === 'string' && runs.map((r) => r.text).join('') !== content.replace(/\r\n?/g, '\n')) {
    runs = [{ kind: null, text: content }];
  }
  for (const run of runs) {
    if (run.kind === null) {
      appendMarked(frag, run.text, pattern);
      continue;
    }
    const span = document.createElement('span');
    span.className = run.kind;
    appendMarked(span, run.text, pattern);
    const sr = document.createElement('span');
    sr.className = 'sr-only';
    sr.textContent = ` (${LABEL[run.kind]})`;
    span.append(sr);
    frag.append(span);
  }
  return frag;
}
