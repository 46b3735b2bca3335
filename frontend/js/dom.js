// dom.js — building DOM without HTML strings, forms, and showing errors.
//
// Nothing here assigns innerHTML: text always goes in as text nodes, so
// user and server text can never become markup.

let idSeq = 0;
export const uid = (prefix) => `${prefix}-${++idSeq}`;

/**
 * h('p', {class: 'x', onclick: fn}, 'text', child) — an element with
 * attributes, listeners (on*) and children (strings become text nodes).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child != null) el.append(child instanceof Node ? child : String(child));
  return el;
}

/**
 * Announces `text` to screen readers by writing it into one of the two live
 * regions that exist from page load (index.html): #status (polite) or, with
 * assertive, #alert. Screen readers announce changes to a region they
 * already know, not a region inserted already filled.
 */
export function announce(text, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? 'alert' : 'status');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Empties both live regions: nothing announced for one account stays for the next. */
export function clearAnnouncements() {
  for (const id of ['status', 'alert']) {
    const region = document.getElementById(id);
    if (region) region.textContent = '';
  }
}

/**
 * A message handed to the next view (main.js's flash): shown as a plain
 * notice and announced through the live regions, never as a pre-filled
 * role=status/alert that screen readers would skip. Null for no message.
 */
export function flashNotice(flash) {
  if (!flash || typeof flash.text !== 'string' || !flash.text) return null;
  const kind = flash.kind === 'warning' ? 'warning' : 'success';
  announce(flash.text, { assertive: kind === 'warning' });
  return h('p', { class: `notice notice-${kind}`, 'data-flash': kind }, flash.text);
}

function formatWait(seconds) {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** The text to show for an error: the server's message, plus when to retry. */
export function errorText(err) {
  let text = (err && err.message) || 'Something went wrong.';
  if (err && err.status === 429 && err.retryAfter !== null && err.retryAfter !== undefined) {
    const at = new Date(Date.now() + err.retryAfter * 1000).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
    });
    text += ` You can try again in ${formatWait(err.retryAfter)} (at ${at}).`;
  }
  return text;
}

/** A labelled input (or textarea) with an optional hint and an error slot. */
export function field({ label, name, type = 'text', hint = null, ...attrs }) {
  const id = uid(`f-${name}`);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const control =
    type === 'textarea' ? h('textarea', { id, name, ...attrs }) : h('input', { id, name, type, ...attrs });
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  const error = h('p', { class: 'field-error', id: errorId, 'data-error-for': name });
  const hintEl = hint ? (hint instanceof Node ? hint : h('p', { class: 'hint' }, hint)) : null;
  if (hintEl) hintEl.id = hintId;
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, control, error);
  return { wrap, control, error };
}

export function setFieldError(form, name, text) {
  const control = form.elements.namedItem(name);
  const slot = form.querySelector(`[data-error-for="${name}"]`);
  if (slot) slot.textContent = text || '';
  if (control && control.setAttribute) {
    if (text) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
}

/**
 * An error found in the browser before anything is sent: shown by its
 * field, the field focused (its aria-describedby reads the message) and the
 * message announced.
 */
export function rejectField(form, name, text) {
  setFieldError(form, name, text);
  const control = form.elements.namedItem(name);
  if (control && control.focus) control.focus();
  announce(text, { assertive: true });
}

function clearErrors(form, formError) {
  for (const slot of form.querySelectorAll('[data-error-for]')) setFieldError(form, slot.dataset.errorFor, '');
  formError.textContent = '';
  formError.hidden = true;
}

/**
 * Wires a form: on submit, runs `action(form)`; while it runs the submit
 * button is disabled; an ApiError's message goes to the form's error slot
 * (next to its submit button) and validation details to their fields.
 * Returns the error slot.
 */
export function handleSubmit(form, action) {
  let formError = form.querySelector('.form-error');
  if (!formError) {
    // No role=alert: filled later, it would not be announced reliably;
    // announce() below speaks the message through the page's #alert region.
    formError = h('p', { class: 'form-error', hidden: true });
    const actions = form.querySelector('.actions');
    if (actions) actions.after(formError);
    else form.append(formError);
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    clearErrors(form, formError);
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    // Disabling the focused submit button drops focus to <body>; it is put
    // back afterwards unless the action moved it somewhere on purpose.
    const focused = document.activeElement;
    form.setAttribute('aria-busy', 'true');
    buttons.forEach((b) => (b.disabled = true));
    try {
      await action(form);
    } catch (err) {
      let moved = false;
      if (err && err.details && typeof err.details === 'object') {
        for (const [name, messages] of Object.entries(err.details)) {
          const text = Array.isArray(messages) ? messages.join(' ') : String(messages);
          setFieldError(form, name, text);
          const control = form.elements.namedItem(name);
          if (!moved && control && control.focus) {
            control.focus();
            moved = true;
          }
        }
      }
      formError.textContent = errorText(err);
      formError.hidden = false;
      announce(formError.textContent, { assertive: true });
      if (!(err && err.name === 'ApiError')) console.error(err);
    } finally {
      form.removeAttribute('aria-busy');
      buttons.forEach((b) => (b.disabled = false));
      const lost = !document.activeElement || document.activeElement === document.body;
      if (lost && focused && focused.isConnected && focused.focus) focused.focus();
    }
  });
  return formError;
}

/**
 * "Tue 14 Jan 2026, 12:00" in the reader's locale and time zone; with
 * seconds, "Tue 14 Jan 2026, 12:00:05" (to tell apart entries written in
 * the same minute). Anything unreadable comes back as given, never "Invalid Date".
 */
export function formatDate(iso, { seconds = false } = {}) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso ?? '');
  return d.toLocaleString([], {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: seconds ? '2-digit' : undefined,
  });
}

/** A block shown in place of a view that could not load: never a blank page. */
export function loadFailed(err, retry) {
  announce(errorText(err), { assertive: true });
  return h(
    'div',
    { class: 'card notice notice-error', 'data-load-failed': '' },
    h('p', null, errorText(err)),
    h('button', { type: 'button', class: 'button', onclick: retry }, 'Try again'),
  );
}
