// views/account.js — who is logged in, change password, delete the account.
import * as api from '../api.js';
import { field, h, handleSubmit, loadFailed, rejectField } from '../dom.js';
import { forgetDrafts } from '../drafts.js';
import { isValid } from '../password.js';
import { passwordRules } from './auth.js';
import { transferCard } from './transfer.js';

export async function render(view, ctx) {
  document.title = 'Account · Thought Diary';
  const who = h('p', { class: 'lede' }, ' ');
  view.append(h('div', { class: 'intro' }, h('h1', { tabindex: '-1' }, 'Account'), who));
  try {
    const user = await api.me();
    who.replaceChildren('Logged in as ', h('strong', { class: 'email' }, user.email));
  } catch (err) {
    view.append(loadFailed(err, () => ctx.reload()));
    return;
  }

  // ---- change password -------------------------------------------------
  const current = field({
    label: 'Current password',
    name: 'current_password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const next = field({
    label: 'New password',
    name: 'new_password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  next.wrap.insertBefore(passwordRules(next.control), next.error);
  const pwForm = h(
    'form',
    { class: 'form', novalidate: true },
    current.wrap,
    next.wrap,
    h(
      'p',
      { class: 'hint' },
      'After the change you will be logged out everywhere, and log in again with the new password.',
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Change password')),
  );
  handleSubmit(pwForm, async () => {
    if (!current.control.value) return rejectField(pwForm, 'current_password', 'Please enter your current password.');
    if (!isValid(next.control.value))
      return rejectField(pwForm, 'new_password', 'The new password does not meet every rule yet.');
    await api.changePassword(current.control.value, next.control.value);
    api.clearSession(); // every earlier token was revoked by the server
    ctx.navigate('#/login', { kind: 'success', text: 'Your password was changed. Please log in with the new one.' });
  });

  // ---- delete account --------------------------------------------------
  const password = field({
    label: 'Your password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const understand = h('input', {
    type: 'checkbox',
    id: 'delete-understand',
    name: 'understand',
    required: true,
    'aria-describedby': 'delete-understand-error',
  });
  const delForm = h(
    'form',
    { class: 'form', novalidate: true },
    h(
      'p',
      { class: 'warning' },
      h('strong', null, 'This permanently deletes your account and every diary entry in it.'),
      ' It cannot be undone, and nobody can recover the entries afterwards.',
    ),
    password.wrap,
    // The label wraps the box so the whole line is its 44 px tap target.
    h(
      'div',
      { class: 'field checkbox' },
      h(
        'label',
        { class: 'check-target' },
        understand,
        h('span', null, 'I understand that my entries will be gone for good.'),
      ),
      h('p', { class: 'field-error', id: 'delete-understand-error', 'data-error-for': 'understand' }),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button button-danger' }, 'Delete my account')),
  );
  handleSubmit(delForm, async () => {
    if (!password.control.value) return rejectField(delForm, 'password', 'Please enter your password to confirm.');
    if (!understand.checked) return rejectField(delForm, 'understand', 'Please tick the box to confirm.');
    await api.deleteAccount(password.control.value);
    api.clearSession();
    forgetDrafts();
    ctx.navigate('#/login', { kind: 'success', text: 'Your account and all its entries were deleted. Take care.' });
  });

  view.append(
    transferCard(),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'pw-title' },
      h('h2', { id: 'pw-title' }, 'Change password'),
      pwForm,
    ),
    h(
      'section',
      { class: 'card danger-zone', 'aria-labelledby': 'del-title' },
      h('h2', { id: 'del-title' }, 'Delete account'),
      delForm,
    ),
  );
}
