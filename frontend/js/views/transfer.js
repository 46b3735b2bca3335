// views/transfer.js — the account page's "Your entries" card: download them
// (GET /diaries/export, JSON or Markdown) and bring an export back
// (POST /diaries/import, which answers {imported, skipped}).
import * as api from '../api.js';
import { announce, errorText, h, handleSubmit, rejectField } from '../dom.js';

const MAX_IMPORT_BYTES = 16 * 1024 * 1024; // the route's body limit (gateway/docs/openapi.json)

/** Hands `blob` to the browser as a file download named `filename`. */
function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function exportPart() {
  const state = h('p', { class: 'hint transfer-state', 'data-export-state': '' });
  const button = (format, label) => {
    const b = h(
      'button',
      {
        type: 'button',
        class: 'button button-quiet',
        onclick: async () => {
          if (b.getAttribute('aria-disabled') === 'true') return;
          b.setAttribute('aria-disabled', 'true');
          state.textContent = 'Preparing your download…';
          try {
            const { blob, filename } = await api.exportEntries(format);
            download(blob, filename);
            state.textContent = `Downloaded ${filename}.`;
            announce(state.textContent);
          } catch (err) {
            state.textContent = errorText(err);
            announce(state.textContent, { assertive: true });
          } finally {
            b.removeAttribute('aria-disabled');
          }
        },
      },
      label,
    );
    return b;
  };
  return [
    h('h3', null, 'Download'),
    h('p', null, 'A copy of every entry, oldest first: JSON to import again later, Markdown to read anywhere.'),
    h('div', { class: 'actions' }, button('json', 'Download JSON'), button('markdown', 'Download Markdown')),
    state,
  ];
}

function importPart() {
  const file = h('input', {
    type: 'file',
    id: 'import-file',
    name: 'file',
    accept: '.json,application/json',
    'aria-describedby': 'import-hint import-file-error',
  });
  const progress = h(
    'div',
    { class: 'import-progress', hidden: true },
    h('progress', { id: 'import-progress', 'aria-labelledby': 'import-step' }),
    h('p', { id: 'import-step', class: 'hint' }),
  );
  const result = h('p', { class: 'notice notice-success', 'data-import-result': '', hidden: true });
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'import-file' }, 'Export file (JSON)'),
      h(
        'p',
        { class: 'hint', id: 'import-hint' },
        'Entries already in your diary (same time and text) are skipped, so importing a file twice adds nothing.',
      ),
      file,
      h('p', { class: 'field-error', id: 'import-file-error', 'data-error-for': 'file' }),
    ),
    progress,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Import entries')),
    result,
  );
  const step = (text) => {
    progress.hidden = false;
    progress.querySelector('#import-step').textContent = text;
    announce(text);
  };
  handleSubmit(form, async () => {
    result.hidden = true;
    const chosen = file.files && file.files[0];
    if (!chosen) return rejectField(form, 'file', 'Please choose an export file first.');
    if (chosen.size > MAX_IMPORT_BYTES)
      return rejectField(form, 'file', 'The file is larger than 16 MB, more than one import can take.');
    try {
      step('Reading the file…');
      let exported;
      try {
        exported = JSON.parse(await chosen.text());
      } catch {
        return rejectField(form, 'file', 'This file is not a Thought Diary JSON export.');
      }
      if (!exported || typeof exported !== 'object' || !Array.isArray(exported.entries))
        return rejectField(form, 'file', 'This file is not a Thought Diary JSON export.');
      step(`Importing ${exported.entries.length.toLocaleString()} entries…`);
      const r = await api.importEntries(exported);
      const imported = Number(r && r.imported) || 0;
      const skipped = Number(r && r.skipped) || 0;
      const entries = imported === 1 ? 'entry' : 'entries';
      result.textContent =
        `Imported ${imported.toLocaleString()} ${entries}; ` +
        `skipped ${skipped.toLocaleString()} already in your diary.`;
      result.hidden = false;
      announce(result.textContent);
      file.value = '';
    } finally {
      progress.hidden = true;
    }
  });
  return [h('h3', null, 'Import'), form];
}

export function transferCard() {
  return h(
    'section',
    { class: 'card transfer', 'aria-labelledby': 'transfer-title' },
    h('h2', { id: 'transfer-title' }, 'Your entries'),
    exportPart(),
    importPart(),
  );
}
