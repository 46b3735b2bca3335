// limits.js — td-diary's rules for an entry's content (diary_content_check in
// services/diary/logic.c), checked in the browser before a save so the
// writer hears about them at once. tests/e2e/webapp.mjs
// (client_rules_match_the_backend) holds this copy to the backend's.

export const MAX_CHARS = 10000;

// Unicode White_Space plus the invisible format characters the backend also
// counts as blank (is_blank in services/diary/logic.c). JavaScript's trim()
// is not the same set: it keeps U+200B..U+200D, U+2060 and U+0085.
const BLANK = /^[\t-\r \u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]*$/u;

/** Characters as the backend counts them: Unicode code points. */
export const chars = (s) => [...s].length;

/** Why `text` cannot be saved ('blank', 'long' or 'nul'), or null when it can. */
export function contentProblem(text) {
  if (BLANK.test(text)) return 'blank';
  if (text.includes('\0')) return 'nul';
  if (chars(text) > MAX_CHARS) return 'long';
  return null;
}
