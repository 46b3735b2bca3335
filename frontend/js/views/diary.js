// views/diary.js — write an entry, read entries newest first (paged), edit
// and delete them.
import * as api from '../api.js';
import { announce, errorText, field, formatDate, h, handleSubmit, loadFailed, setFieldError } from '../dom.js';
import { highlighted } from '../sanitize.js';

const PER_PAGE = 10;
const MAX_CHARS = 10000;
let draft = ''; // the unsaved new entry, kept across re-renders (memory only)

const chars = (s) => [...s].length;

function checkContent(form, text) {
  if (!text.trim()) {
    setFieldError(form, 'content', 'Write a few words first.');
    return false;
  }
  if (chars(text) > MAX_CHARS) {
    setFieldError(form, 'content', `An entry can be at most ${MAX_CHARS.toLocaleString()} characters.`);
    return false;
  }
  return true;
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

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function toneBadges(entry) {
  const badges = [];
  if (entry.positive_count > 0)
    badges.push(h('span', { class: 'badge badge-positive' }, h('span', { 'aria-hidden': 'true', class: 'badge-icon' }, '+'), plural(entry.positive_count, 'positive phrase')));
  if (entry.negative_count > 0)
    badges.push(h('span', { class: 'badge badge-negative' }, h('span', { 'aria-hidden': 'true', class: 'badge-icon' }, '−'), plural(entry.negative_count, 'negative phrase')));
  if (badges.length === 0) badges.push(h('span', { class: 'badge' }, 'No marked phrases'));
  return h('p', { class: 'badges' }, badges);
}

function entryCard(entry, page, reload) {
  const card = h('article', { class: 'card entry', 'data-id': entry.id, 'aria-labelledby': `entry-${entry.id}-date` });

  const show = () => {
    const edited = entry.updated_at !== entry.created_at;
    const editButton = h('button', { type: 'button', class: 'button button-quiet', onclick: () => edit() }, 'Edit');
    const deleteButton = h('button', { type: 'button', class: 'button button-quiet button-danger-text', onclick: () => confirmDelete(actions) }, 'Delete');
    const actions = h('div', { class: 'entry-actions' }, editButton, deleteButton);
    card.replaceChildren(
      h('header', { class: 'entry-head' },
        h('h3', { class: 'entry-date', id: `entry-${entry.id}-date` },
          h('time', { datetime: entry.created_at }, formatDate(entry.created_at))),
        edited ? h('span', { class: 'edited' }, `edited ${formatDate(entry.updated_at)}`) : null),
      h('p', { class: 'entry-text' }, highlighted(entry.analyzed_content, entry.content)),
      toneBadges(entry),
      actions,
    );
    return editButton;
  };

  const edit = () => {
    const text = field({ label: 'Edit entry', name: 'content', type: 'textarea', rows: 6, required: true });
    text.control.value = entry.content;
    const form = h('form', { class: 'form edit-form', novalidate: true },
      text.wrap,
      counter(text.control),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'button' }, 'Save changes'),
        h('button', { type: 'button', class: 'button button-quiet', onclick: () => show().focus() }, 'Cancel')));
    handleSubmit(form, async () => {
      if (!checkContent(form, text.control.value)) return;
      entry = await api.updateEntry(entry.id, text.control.value);
      show().focus();
      announce('Entry updated.');
    });
    card.replaceChildren(h('p', { class: 'entry-date' }, h('time', { datetime: entry.created_at }, formatDate(entry.created_at))), form);
    text.control.focus();
  };

  const confirmDelete = (actions) => {
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const keep = h('button', { type: 'button', class: 'button button-quiet', onclick: () => show().focus() }, 'Keep it');
    const yes = h('button', {
      type: 'button',
      class: 'button button-danger',
      onclick: async () => {
        yes.disabled = true;
        error.hidden = true;
        try {
          await api.deleteEntry(entry.id);
          announce('Entry deleted.');
          reload(page);
        } catch (err) {
          error.textContent = errorText(err);
          error.hidden = false;
          yes.disabled = false;
        }
      },
    }, 'Yes, delete it');
    const box = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      h('p', null, h('strong', null, 'Delete this entry?'), ' This cannot be undone.'),
      h('div', { class: 'actions' }, yes, keep),
      error);
    actions.replaceWith(box);
    keep.focus();
  };

  show();
  return card;
}

export async function render(view, ctx) {
  document.title = 'Diary · Thought Diary';
  let page = Number.parseInt(ctx.params.get('page') || '1', 10);
  if (!Number.isSafeInteger(page) || page < 1) page = 1;

  const text = field({
    label: "What's on your mind?",
    name: 'content',
    type: 'textarea',
    rows: 5,
    required: true,
    placeholder: 'Write freely. A sentence or two is enough.',
    hint: 'When you save, positive and negative phrases are highlighted so you can notice your thinking patterns.',
  });
  text.control.value = draft;
  text.control.addEventListener('input', () => {
    draft = text.control.value;
  });
  const compose = h('form', { class: 'card form compose', novalidate: true, 'aria-labelledby': 'compose-title' },
    h('h2', { id: 'compose-title', class: 'sr-only' }, 'New entry'),
    text.wrap,
    counter(text.control),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Save entry')));

  const list = h('section', { class: 'entries', 'aria-labelledby': 'entries-title' });
  view.append(
    h('div', { class: 'intro' }, h('h1', { tabindex: '-1' }, 'Your diary')),
    compose,
    list,
  );

  const load = async (p) => {
    if (p !== page) {
      ctx.navigate(p === 1 ? '#/diary' : `#/diary?page=${p}`);
      return;
    }
    list.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.listEntries(page, PER_PAGE);
    } catch (err) {
      list.replaceChildren(h('h2', { id: 'entries-title' }, 'Entries'), loadFailed(err, () => load(page)));
      list.removeAttribute('aria-busy');
      return;
    }
    if (data.items.length === 0 && page > 1 && data.pages > 0) {
      ctx.navigate(`#/diary?page=${data.pages}`); // deleted the last entry of the last page
      return;
    }
    const heading = h('h2', { id: 'entries-title' }, 'Entries');
    const summary = h('p', { class: 'hint' },
      data.total === 0 ? '' : `${data.total === 1 ? '1 entry' : `${data.total} entries`} · page ${data.page} of ${Math.max(1, data.pages)} · newest first`);
    const items = data.items.map((e) => h('li', null, entryCard(e, page, load)));
    const body = items.length
      ? h('ol', { class: 'entry-list' }, items)
      : h('div', { class: 'card empty' },
          h('p', null, page > 1 ? 'There are no entries on this page.' : 'No entries yet.'),
          h('p', { class: 'hint' }, 'Your first entry can be short — how did today feel?'));
    const pager = data.pages > 1
      ? h('nav', { class: 'pager', 'aria-label': 'Pages' },
          page > 1 ? h('a', { class: 'button button-quiet', href: page === 2 ? '#/diary' : `#/diary?page=${page - 1}`, rel: 'prev' }, '← Newer') : h('span'),
          h('span', { class: 'hint' }, `Page ${page} of ${data.pages}`),
          page < data.pages ? h('a', { class: 'button button-quiet', href: `#/diary?page=${page + 1}`, rel: 'next' }, 'Older →') : h('span'))
      : null;
    list.replaceChildren(...[heading, summary, body, pager].filter(Boolean));
    list.removeAttribute('aria-busy');
  };

  handleSubmit(compose, async () => {
    const content = text.control.value;
    if (!checkContent(compose, content)) return;
    await api.createEntry(content);
    draft = '';
    text.control.value = '';
    text.control.dispatchEvent(new Event('input'));
    announce('Entry saved.');
    if (page === 1) await load(1);
    else ctx.navigate('#/diary');
  });

  await load(page);
}
