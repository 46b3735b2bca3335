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

/** Announces `text` to screen readers through the page's status region. */
export function announce(text) {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
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
    type === 'textarea'
      ? h('textarea', { id, name, ...attrs })
      : h('input', { id, name, type, ...attrs });
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
    formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const actions = form.querySelector('.actions');
    if (actions) actions.after(formError);
    else form.append(formError);
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    clearErrors(form, formError);
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    form.setAttribute('aria-busy', 'true');
    buttons.forEach((b) => (b.disabled = true));
    try {
      await action(form);
    } catch (err) {
      let focused = false;
      if (err && err.details && typeof err.details === 'object') {
        for (const [name, messages] of Object.entries(err.details)) {
          const text = Array.isArray(messages) ? messages.join(' ') : String(messages);
          setFieldError(form, name, text);
          const control = form.elements.namedItem(name);
          if (!focused && control && control.focus) {
            control.focus();
            focused = true;
          }
        }
      }
      formError.textContent = errorText(err);
      formError.hidden = false;
      if (!(err && err.name === 'ApiError')) console.error(err);
    } finally {
      form.removeAttribute('aria-busy');
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return formError;
}

/** "Tue 14 Jan 2026, 12:00" in the reader's locale and time zone. */
export function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString([], {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** A block shown in place of a view that could not load: never a blank page. */
export function loadFailed(err, retry) {
  return h(
    'div',
    { class: 'card notice notice-error', role: 'alert' },
    h('p', null, errorText(err)),
    h('button', { type: 'button', class: 'button', onclick: retry }, 'Try again'),
  );
}
