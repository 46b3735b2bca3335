// drafts.js — unsaved text (the new entry, open edits) kept per account in
// localStorage, so a reload, a closed tab, an expired session or an outage
// does not lose what someone wrote.
//
// Privacy rules (issue 19): the store names its owner (the access token's
// `sub`, api.userId()); text is only ever read back for that same account.
// Logging out or deleting the account forgets every draft; a different
// account logging in on this browser wipes the store before anything is
// shown (claimDrafts). A session that merely expires keeps the drafts, so
// the same person logging in again finds their text.
//
// localStorage, not sessionStorage: a draft should survive closing the tab,
// while the session itself does not (api.js explains why tokens are per tab).
import { userId } from './api.js';

const KEY = 'thought-diary.drafts';

function read() {
  try {
    const store = JSON.parse(localStorage.getItem(KEY) || 'null');
    return store && typeof store.owner === 'string' && store.items && typeof store.items === 'object' ? store : null;
  } catch {
    return null;
  }
}

function write(store) {
  try {
    localStorage.setItem(KEY, JSON.stringify(store));
    return true;
  } catch {
    return false; // storage full or disabled: the draft lives in the page only
  }
}

/** The store when it belongs to the logged-in account, else null. */
function mine() {
  const owner = userId();
  const store = read();
  return owner && store && store.owner === owner ? store : null;
}

/** At login: keeps this account's drafts, wipes anyone else's. */
export function claimDrafts() {
  const owner = userId();
  const store = read();
  if (!owner) return forgetDrafts();
  if (!store || store.owner !== owner) write({ owner, items: {} });
}

/** At logout or account deletion: nothing written stays behind. */
export function forgetDrafts() {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing to forget
  }
}

/** The draft named `name` ('new', 'edit:<id>') of the logged-in account: {text, base, savedAt} or null. */
export function loadDraft(name) {
  const store = mine();
  const item = store && store.items[name];
  return item && typeof item.text === 'string' ? item : null;
}

/**
 * Saves (or, for empty text, drops) a draft of the logged-in account.
 * `base` is what the text was edited from (an entry's updated_at), so a
 * restored edit can tell it is still about the same version. Returns true
 * when the draft is stored.
 */
export function saveDraft(name, text, base = null) {
  const owner = userId();
  if (!owner) return false;
  const store = mine() || { owner, items: {} };
  if (!text) delete store.items[name];
  else store.items[name] = { text, base, savedAt: new Date().toISOString() };
  return write(store);
}

export function dropDraft(name) {
  const store = mine();
  if (store && name in store.items) {
    delete store.items[name];
    write(store);
  }
}

/** The ids of the entries with an open edit saved as a draft. */
export function editDraftIds() {
  const store = mine();
  if (!store) return [];
  return Object.keys(store.items)
    .filter((k) => k.startsWith('edit:'))
    .map((k) => k.slice(5));
}

/**
 * Keeps `textarea`'s text saved as draft `name` on every input, showing the
 * state in `stateEl`. Saved at once, not debounced: a pending save could
 * otherwise run after a logout or an account switch and store one
 * account's text under the next. Returns {drop}.
 */
export function autosave(textarea, name, stateEl, base = null) {
  const show = (text) => {
    if (stateEl) stateEl.textContent = text;
  };
  textarea.addEventListener('input', () => {
    const ok = saveDraft(name, textarea.value, base);
    if (!textarea.value) show('');
    else show(ok ? 'Draft saved on this device.' : 'This draft could not be saved on this device.');
  });
  return {
    drop: () => {
      dropDraft(name);
      show('');
    },
  };
}
