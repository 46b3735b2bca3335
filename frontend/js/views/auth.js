// views/auth.js — log in and register.
import * as api from '../api.js';
import { clearAnnouncements, field, flashNotice, h, handleSubmit, rejectField, uid } from '../dom.js';
import { claimDrafts } from '../drafts.js';
import { check, isValid } from '../password.js';

/** The live list of password rules under a password field. */
export function passwordRules(input) {
  const summary = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const items = check('').map((r) =>
    h(
      'li',
      { 'data-rule': r.id, class: 'rule' },
      h('span', { class: 'rule-icon', 'aria-hidden': 'true' }),
      h('span', { class: 'rule-text' }, r.text),
      h('span', { class: 'sr-only rule-state' }),
    ),
  );
  const list = h('ul', { class: 'rules', id: uid('rules') }, items);
  const wrap = h('div', { class: 'rules-wrap' }, h('p', { class: 'hint' }, 'Your password needs:'), list, summary);
  let timer = null;
  const update = () => {
    const results = check(input.value);
    results.forEach((r, i) => {
      items[i].classList.toggle('met', r.met);
      items[i].querySelector('.rule-icon').textContent = r.met ? '✓' : '○';
      items[i].querySelector('.rule-state').textContent = r.met ? ' — done' : ' — not yet';
    });
    const met = results.filter((r) => r.met).length;
    if (met === results.length) {
      // an earlier "does not meet every rule" no longer applies
      const error = input.closest('.field') && input.closest('.field').querySelector('.field-error');
      if (error) error.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    clearTimeout(timer); // announce once typing pauses, not on every key
    timer = setTimeout(() => {
      summary.textContent = input.value ? `${met} of ${results.length} password rules met.` : '';
    }, 700);
  };
  input.addEventListener('input', update);
  update();
  const described = input.getAttribute('aria-describedby') || '';
  input.setAttribute('aria-describedby', `${list.id} ${described}`.trim());
  return wrap;
}

export async function renderLogin(view, ctx) {
  document.title = 'Log in · Thought Diary';
  const email = field({
    label: 'Email',
    name: 'email',
    type: 'email',
    autocomplete: 'email',
    required: true,
    value: ctx.params.get('email') || '',
  });
  const password = field({
    label: 'Password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = h(
    'form',
    { class: 'card form', novalidate: true },
    email.wrap,
    password.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Log in')),
  );
  handleSubmit(form, async () => {
    if (!email.control.value.trim()) return rejectField(form, 'email', 'Please enter your email.');
    if (!password.control.value) return rejectField(form, 'password', 'Please enter your password.');
    await api.login(email.control.value.trim(), password.control.value);
    claimDrafts(); // another account's drafts are wiped before anything renders
    clearAnnouncements();
    ctx.navigate('#/diary');
  });
  // Node.append would turn a null (no message) into the text "null": nulls are dropped first.
  view.append(
    ...[
      h(
        'div',
        { class: 'intro' },
        h('h1', { tabindex: '-1' }, 'Welcome back'),
        h('p', { class: 'lede' }, 'A quiet place to write down your thoughts and notice how they feel.'),
      ),
      flashNotice(ctx.flash),
      form,
      h('p', { class: 'switch' }, 'New here? ', h('a', { href: '#/register' }, 'Create an account')),
    ].filter(Boolean),
  );
  (email.control.value ? password.control : email.control).focus();
}

export async function renderRegister(view, ctx) {
  document.title = 'Create an account · Thought Diary';
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = field({
    label: 'Password',
    name: 'password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  password.wrap.insertBefore(passwordRules(password.control), password.error);
  const form = h(
    'form',
    { class: 'card form', novalidate: true },
    email.wrap,
    password.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Create account')),
  );
  handleSubmit(form, async () => {
    const address = email.control.value.trim();
    if (!address) return rejectField(form, 'email', 'Please enter your email.');
    if (!isValid(password.control.value))
      return rejectField(form, 'password', 'Your password does not meet every rule yet.');
    await api.register(address, password.control.value);
    ctx.navigate(`#/login?email=${encodeURIComponent(address)}`, {
      kind: 'success',
      text: 'Your account is ready. Please log in.',
    });
  });
  view.append(
    h(
      'div',
      { class: 'intro' },
      h('h1', { tabindex: '-1' }, 'Create your account'),
      h('p', { class: 'lede' }, 'Your diary is private: only you can read your entries.'),
    ),
    form,
    h('p', { class: 'switch' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')),
  );
  email.control.focus();
}
