// views/diary.js — write an entry, find entries (search and filters, see
// views/search.js), read them newest first (paged), edit and delete them.
//
// Unsaved text lives in drafts.js (per account, in the browser), never in a
// module variable: a variable here outlived the session and showed one
// account's draft to the next (issue 19).
import * as api from '../api.js';
import { announce, errorText, field, formatDate, h, handleSubmit, loadFailed, rejectField, uid } from '../dom.js';
import { autosave, editDraftIds, loadDraft } from '../drafts.js';
import { chars, contentProblem, MAX_CHARS } from '../limits.js';
import { highlighted } from '../sanitize.js';
import { filterHash, readFilters, searchForm, searchTerms, summaryText } from './search.js';

const PER_PAGE = 10;
// Longer entries start collapsed behind "Read more" so a page of them stays
// scannable; ~8 lines of text at the app's width.
const COLLAPSE_CHARS = 600;
const COLLAPSE_LINES = 8;

const CONTENT_PROBLEMS = {
  blank: 'Write a few words first.',
  long: `An entry can be at most ${MAX_CHARS.toLocaleString()} characters.`,
  nul: 'An entry cannot contain NUL characters.',
};

/** True when `text` can be saved; otherwise the error is shown, focused and announced. */
function checkContent(form, text) {
  const problem = contentProblem(text);
  if (problem) rejectField(form, 'content', CONTENT_PROBLEMS[problem]);
  return !problem;
}

function counter(textarea) {
  const out = h('p', { class: 'counter hint', 'aria-live': 'off' });
  const update = () => {
    const n = chars(textarea.value);
    out.textContent = `${n.toLocaleString()} / ${MAX_CHARS.toLocaleString()} characters`;
    out.classList.toggle('over', n > MAX_CHARS);
  };
  textarea.addEventListener('input', update);
  update();
  return out;
}

/** Ctrl+Enter (⌘+Enter on a Mac) in `textarea` submits its form. */
function submitOnCtrlEnter(textarea) {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && textarea.form) {
      event.preventDefault();
      textarea.form.requestSubmit();
    }
  });
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function toneBadges(entry) {
  const badges = [];
  if (entry.positive_count > 0)
    badges.push(
      h(
        'span',
        { class: 'badge badge-positive' },
        h('span', { 'aria-hidden': 'true', class: 'badge-icon' }, '+'),
        plural(entry.positive_count, 'positive phrase'),
      ),
    );
  if (entry.negative_count > 0)
    badges.push(
      h(
        'span',
        { class: 'badge badge-negative' },
        h('span', { 'aria-hidden': 'true', class: 'badge-icon' }, '−'),
        plural(entry.negative_count, 'negative phrase'),
      ),
    );
  if (badges.length === 0) badges.push(h('span', { class: 'badge' }, 'No marked phrases'));
  return h('p', { class: 'badges' }, badges);
}

/** How many times each string occurs in `list`. */
function counts(list) {
  const out = new Map();
  for (const s of list) out.set(s, (out.get(s) || 0) + 1);
  return out;
}

/**
 * The date each entry is shown and named by: minutes, or seconds where two
 * entries on the page share a minute, and "(2 of 3)" where they share even
 * the second (an import, a script), so headings and button names tell every
 * entry apart.
 */
function dateLabels(items) {
  const short = items.map((e) => formatDate(e.created_at));
  const shortCount = counts(short);
  const precise = items.map((e, i) =>
    shortCount.get(short[i]) > 1 ? formatDate(e.created_at, { seconds: true }) : short[i],
  );
  const preciseCount = counts(precise);
  const seen = new Map();
  return precise.map((label) => {
    const n = preciseCount.get(label);
    if (n === 1) return label;
    seen.set(label, (seen.get(label) || 0) + 1);
    return `${label} (${seen.get(label)} of ${n})`;
  });
}

function isLong(text) {
  return chars(text) > COLLAPSE_CHARS || text.split('\n').length > COLLAPSE_LINES;
}

/**
 * One entry as an <article>: read, edit (autosaved as a draft), confirm a
 * deletion. `label` is its date as shown; `terms` the searched words to mark.
 */
function entryCard(entry, { label, terms, onDeleted, startEditing }) {
  const headingId = `entry-${entry.id}-date`;
  const card = h('article', { class: 'card entry', 'data-id': entry.id, 'aria-labelledby': headingId });
  let escape = null; // what Escape does in the current mode

  card.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && escape) {
      event.preventDefault();
      escape();
    }
  });

  // The heading keeps its id in every mode: the card's aria-labelledby
  // points at it.
  const heading = () =>
    h('h3', { class: 'entry-date', id: headingId, tabindex: '-1' }, h('time', { datetime: entry.created_at }, label));

  const show = () => {
    escape = null;
    const edited = entry.updated_at !== entry.created_at;
    const editButton = h(
      'button',
      { type: 'button', class: 'button button-quiet', 'aria-label': `Edit entry of ${label}`, onclick: () => edit() },
      'Edit',
    );
    const deleteButton = h(
      'button',
      {
        type: 'button',
        class: 'button button-quiet button-danger-text',
        'aria-label': `Delete entry of ${label}`,
        onclick: () => confirmDelete(actions),
      },
      'Delete',
    );
    const actions = h('div', { class: 'entry-actions' }, editButton, deleteButton);
    const textId = uid('entry-text');
    const text = h(
      'div',
      { class: 'entry-text', id: textId },
      highlighted(entry.analyzed_content, entry.content, terms),
    );
    let more = null;
    if (isLong(entry.content)) {
      text.classList.add('collapsed');
      more = h(
        'button',
        {
          type: 'button',
          class: 'button button-quiet button-small read-more',
          'aria-expanded': 'false',
          'aria-controls': textId,
          'aria-label': `Read more of the entry of ${label}`,
          onclick: () => {
            const open = more.getAttribute('aria-expanded') !== 'true';
            more.setAttribute('aria-expanded', String(open));
            text.classList.toggle('collapsed', !open);
            more.textContent = open ? 'Show less' : 'Read more';
            more.setAttribute('aria-label', `${open ? 'Show less' : 'Read more'} of the entry of ${label}`);
          },
        },
        'Read more',
      );
    }
    card.replaceChildren(
      ...[
        h(
          'header',
          { class: 'entry-head' },
          heading(),
          edited ? h('span', { class: 'edited' }, `edited ${formatDate(entry.updated_at)}`) : null,
        ),
        text,
        more,
        toneBadges(entry),
        actions,
      ].filter(Boolean),
    ); // Node.replaceChildren would show a null as "null"

    return editButton;
  };

  const edit = (restored = null) => {
    const text = field({ label: 'Edit entry', name: 'content', type: 'textarea', rows: 6, required: true });
    text.control.value = restored ? restored.text : entry.content;
    // A draft made from an older version of the entry (edited since in
    // another tab or device) is still restored, with a word of warning.
    const stale = restored && restored.base && restored.base !== entry.updated_at;
    const state = h(
      'p',
      { class: 'draft-state hint' },
      !restored
        ? ''
        : stale
          ? 'Your unsaved changes were restored; the entry was changed elsewhere since, so check before saving.'
          : 'Your unsaved changes were restored.',
    );
    const draft = autosave(text.control, `edit:${entry.id}`, state, entry.updated_at);
    submitOnCtrlEnter(text.control);
    const cancel = () => {
      draft.drop();
      show().focus();
    };
    escape = cancel;
    const form = h(
      'form',
      { class: 'form edit-form', novalidate: true },
      text.wrap,
      counter(text.control),
      state,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'button' }, 'Save changes'),
        h('button', { type: 'button', class: 'button button-quiet', onclick: cancel }, 'Cancel'),
      ),
    );
    handleSubmit(form, async () => {
      if (!checkContent(form, text.control.value)) return;
      entry = await api.updateEntry(entry.id, text.control.value);
      draft.drop();
      show().focus();
      announce('Entry updated.');
    });
    card.replaceChildren(h('header', { class: 'entry-head' }, heading()), form);
    return text.control;
  };

  const confirmDelete = (actions) => {
    const error = h('p', { class: 'form-error', hidden: true });
    const keep = () => show().focus();
    escape = keep;
    const keepButton = h('button', { type: 'button', class: 'button button-quiet', onclick: keep }, 'Keep it');
    const yes = h(
      'button',
      {
        type: 'button',
        class: 'button button-danger',
        onclick: async () => {
          // aria-disabled, not disabled: a disabled button loses focus to <body>.
          if (yes.getAttribute('aria-disabled') === 'true') return;
          yes.setAttribute('aria-disabled', 'true');
          error.hidden = true;
          try {
            await api.deleteEntry(entry.id);
            announce('Entry deleted.');
            onDeleted();
          } catch (err) {
            error.textContent = errorText(err);
            error.hidden = false;
            announce(errorText(err), { assertive: true });
            yes.removeAttribute('aria-disabled');
            yes.focus();
          }
        },
      },
      'Yes, delete it',
    );
    const titleId = uid('confirm');
    const box = h(
      'div',
      { class: 'confirm', role: 'group', 'aria-labelledby': titleId },
      h('p', { id: titleId }, h('strong', null, 'Delete this entry?'), ' This cannot be undone.'),
      h('div', { class: 'actions' }, yes, keepButton),
      error,
    );
    actions.replaceWith(box);
    keepButton.focus();
  };

  if (startEditing) edit(startEditing);
  else show();
  return card;
}

export async function render(view, ctx) {
  document.title = 'Diary · Thought Diary';
  let page = Number.parseInt(ctx.params.get('page') || '1', 10);
  if (!Number.isSafeInteger(page) || page < 1) page = 1;
  const filters = readFilters(ctx.params);
  const terms = searchTerms(filters.q);

  const text = field({
    label: "What's on your mind?",
    name: 'content',
    type: 'textarea',
    rows: 5,
    required: true,
    placeholder: 'Write freely. A sentence or two is enough.',
    hint:
      'When you save, positive and negative phrases are highlighted so you can notice your thinking patterns. ' +
      'Ctrl+Enter (⌘+Enter) saves.',
  });
  const saved = loadDraft('new');
  text.control.value = saved ? saved.text : '';
  const draftState = h('p', { class: 'draft-state hint' }, saved ? 'Your unsaved draft was restored.' : '');
  const draft = autosave(text.control, 'new', draftState);
  submitOnCtrlEnter(text.control);
  const compose = h(
    'form',
    { class: 'card form compose', novalidate: true, 'aria-labelledby': 'compose-title' },
    h('h2', { id: 'compose-title', class: 'sr-only' }, 'New entry'),
    text.wrap,
    counter(text.control),
    draftState,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Save entry')),
  );

  const list = h('section', { class: 'entries', 'aria-labelledby': 'entries-title' });
  view.append(
    h('div', { class: 'intro' }, h('h1', { tabindex: '-1' }, 'Your diary')),
    compose,
    searchForm(filters, (next) => ctx.navigate(filterHash(next, 1))),
    list,
  );

  // focusIndex: after a deletion, the entry now at that place (or the last
  // one, or the list heading) takes focus instead of <body>.
  const load = async (p, { focusIndex = null } = {}) => {
    if (p !== page) {
      ctx.navigate(filterHash(filters, p));
      return;
    }
    list.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.listEntries(page, PER_PAGE, filters);
    } catch (err) {
      list.replaceChildren(
        h('h2', { id: 'entries-title', tabindex: '-1' }, 'Entries'),
        loadFailed(err, () => load(page)),
      );
      list.removeAttribute('aria-busy');
      return;
    }
    if (data.items.length === 0 && page > 1 && data.pages > 0) {
      ctx.navigate(filterHash(filters, data.pages)); // deleted the last entry of the last page
      return;
    }
    const heading = h('h2', { id: 'entries-title', tabindex: '-1' }, filters.active ? 'Matching entries' : 'Entries');
    const summary = h('p', { class: 'hint', 'data-summary': '' }, summaryText(data, filters));
    const labels = dateLabels(data.items);
    const openEdits = new Set(editDraftIds());
    const items = data.items.map((e, i) => {
      const restored = openEdits.has(String(e.id)) ? loadDraft(`edit:${e.id}`) : null;
      return h(
        'li',
        null,
        entryCard(e, {
          label: labels[i],
          terms,
          startEditing: restored,
          onDeleted: () => load(page, { focusIndex: i }),
        }),
      );
    });
    const body = items.length
      ? h('ol', { class: 'entry-list' }, items)
      : h(
          'div',
          { class: 'card empty' },
          h(
            'p',
            null,
            filters.active ? 'No entries match.' : page > 1 ? 'There are no entries on this page.' : 'No entries yet.',
          ),
          h(
            'p',
            { class: 'hint' },
            filters.active
              ? 'Try fewer words or a wider date range.'
              : 'Your first entry can be short — how did today feel?',
          ),
        );
    const pager =
      data.pages > 1
        ? h(
            'nav',
            { class: 'pager', 'aria-label': 'Pages' },
            page > 1
              ? h('a', { class: 'button button-quiet', href: filterHash(filters, page - 1), rel: 'prev' }, '← Newer')
              : h('span'),
            h('span', { class: 'hint' }, `Page ${page} of ${data.pages}`),
            page < data.pages
              ? h('a', { class: 'button button-quiet', href: filterHash(filters, page + 1), rel: 'next' }, 'Older →')
              : h('span'),
          )
        : null;
    list.replaceChildren(...[heading, summary, body, pager].filter(Boolean));
    list.removeAttribute('aria-busy');
    if (focusIndex !== null) {
      const headings = list.querySelectorAll('.entry h3');
      const target = headings[Math.min(focusIndex, headings.length - 1)] || heading;
      target.focus();
    }
  };

  handleSubmit(compose, async () => {
    const content = text.control.value;
    if (!checkContent(compose, content)) return;
    await api.createEntry(content);
    draft.drop();
    text.control.value = '';
    text.control.dispatchEvent(new Event('input'));
    announce('Entry saved.');
    if (page === 1 && !filters.active) await load(1);
    else ctx.navigate('#/diary');
    // Ready for the next thought; the new entry is first in the list below.
    if (text.control.isConnected) text.control.focus();
  });

  await load(page);
}
