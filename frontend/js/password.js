// password.js — the register policy of gateway/docs/openapi.json, shown live as people type.
// It mirrors td-auth's check (services/auth/logic.c): characters are Unicode
// code points; "special" is anything but an ASCII letter, digit or space.

export const RULES = [
  { id: 'length', text: '8 to 128 characters', test: (p) => [...p].length >= 8 && [...p].length <= 128 },
  { id: 'upper', text: 'an upper-case letter (A–Z)', test: (p) => /[A-Z]/.test(p) },
  { id: 'lower', text: 'a lower-case letter (a–z)', test: (p) => /[a-z]/.test(p) },
  { id: 'digit', text: 'a digit (0–9)', test: (p) => /[0-9]/.test(p) },
  { id: 'special', text: 'a special character, like ! ? # or %', test: (p) => /[^A-Za-z0-9 ]/u.test(p) },
];

export function check(password) {
  return RULES.map((r) => ({ id: r.id, text: r.text, met: r.test(password) }));
}

export function isValid(password) {
  return check(password).every((r) => r.met);
}
