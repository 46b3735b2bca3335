// api.js — the client of the gateway's HTTP API (docs/API.md), same origin.
//
// Tokens live in sessionStorage, not localStorage and not in memory only:
// - memory only would lose the session on every reload;
// - localStorage would keep a diary unlocked on a shared computer after the
//   tab is closed, and share one rotating refresh token between tabs (two
//   tabs refreshing at once would look like token theft to the server);
// - sessionStorage survives a reload, is per tab and is gone when the tab
//   closes. Any script running in the page could read it (XSS), as it could
//   with localStorage; that risk is kept small by the gateway's strict CSP
//   (script-src 'self', no inline script), by never inserting server or user
//   text as HTML (analyzed_content goes through sanitize.js), and by the
//   short access-token lifetime. An httpOnly cookie would be out of reach of
//   scripts, but the API is bearer-token based by contract.

const STORAGE_KEY = 'thought-diary.session';
const REFRESH_MARGIN_S = 30; // refresh this long before the access token expires

export class ApiError extends Error {
  constructor({ status, code, message, details = null, retryAfter = null, unavailable = false }) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 for a network error
    this.code = code; // the server's "error" field
    this.details = details; // {field: [messages]} for validation errors
    this.retryAfter = retryAfter; // seconds, from Retry-After on a 429
    this.unavailable = unavailable; // network error, 502, 503, 504: the backend is down
  }
}

let session = loadSession();
const listeners = { sessionEnded: [], availability: [] };

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    return s && typeof s.access === 'string' && typeof s.refresh === 'string' ? s : null;
  } catch {
    return null;
  }
}

function saveSession(tokens) {
  session = { access: tokens.access_token, refresh: tokens.refresh_token };
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  } catch {
    // storage full or disabled: the session lasts until reload
  }
}

export function clearSession() {
  session = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing to clear
  }
}

export function isLoggedIn() {
  return session !== null;
}

/** fn(message) runs when the session ends without the user asking. */
export function onSessionEnded(fn) {
  listeners.sessionEnded.push(fn);
}

/** fn(up: boolean, error) runs when the backend stops or starts answering. */
export function onAvailability(fn) {
  listeners.availability.push(fn);
}

function emit(name, ...args) {
  for (const fn of listeners[name]) fn(...args);
}

function endSession(message) {
  clearSession();
  emit('sessionEnded', message);
}

/** Retry-After is seconds or an HTTP date; returns seconds or null. */
export function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/** Seconds until the JWT's exp, or 0 when it cannot be read. */
function secondsLeft(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    return typeof claims.exp === 'number' ? claims.exp - Date.now() / 1000 : 0;
  } catch {
    return 0;
  }
}

/** One HTTP exchange; resolves with the parsed JSON or throws an ApiError. */
async function send(method, path, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    const err = new ApiError({
      status: 0,
      code: 'network_error',
      message: "We couldn't reach Thought Diary. Check your connection and try again.",
      unavailable: true,
    });
    emit('availability', false, err);
    throw err;
  }
  let data = null;
  if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  const unavailable = res.status === 502 || res.status === 503 || res.status === 504;
  if (!unavailable) emit('availability', true);
  if (res.ok) return data;
  const err = new ApiError({
    status: res.status,
    code: (data && data.error) || `http_${res.status}`,
    message:
      (data && typeof data.message === 'string' && data.message) ||
      (unavailable
        ? 'Thought Diary is not available right now. Please try again in a moment.'
        : `Something went wrong (HTTP ${res.status}).`),
    details: data && data.details,
    retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
    unavailable,
  });
  if (unavailable) emit('availability', false, err);
  throw err;
}

const SESSION_REVOKED =
  'Your session was ended (you may have logged out elsewhere or changed your password). Please log in again.';
const SESSION_EXPIRED = 'Your session has expired. Please log in again.';

let refreshing = null;

/** Rotates the refresh token (one at a time: a second use would be theft). */
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const current = session;
      if (!current) {
        endSession(SESSION_EXPIRED);
        throw new ApiError({ status: 401, code: 'missing_token', message: SESSION_EXPIRED });
      }
      try {
        saveSession(await send('POST', '/auth/refresh', { token: current.refresh }));
      } catch (err) {
        if (!err.unavailable) endSession(err.code === 'token_revoked' ? SESSION_REVOKED : SESSION_EXPIRED);
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

const TOKEN_ERRORS = new Set(['token_expired', 'invalid_token', 'missing_token', 'token_revoked']);

/** An authenticated request: refreshes the access token when needed, once. */
export async function authed(method, path, body) {
  if (!session) {
    endSession(SESSION_EXPIRED);
    throw new ApiError({ status: 401, code: 'missing_token', message: SESSION_EXPIRED });
  }
  if (refreshing) await refreshing;
  else if (secondsLeft(session.access) < REFRESH_MARGIN_S) await refresh();
  try {
    return await send(method, path, { body, token: session.access });
  } catch (err) {
    if (err.status !== 401 || !TOKEN_ERRORS.has(err.code)) throw err;
    if (err.code === 'token_revoked') {
      endSession(SESSION_REVOKED);
      throw err;
    }
  }
  await refresh(); // expired or not accepted: one fresh access token, one retry
  try {
    return await send(method, path, { body, token: session.access });
  } catch (err) {
    if (err.status === 401 && TOKEN_ERRORS.has(err.code))
      endSession(err.code === 'token_revoked' ? SESSION_REVOKED : SESSION_EXPIRED);
    throw err;
  }
}

// ---- the operations the app uses ----------------------------------------

export async function login(email, password) {
  saveSession(await send('POST', '/auth/login', { body: { email, password } }));
}

export function register(email, password) {
  return send('POST', '/auth/register', { body: { email, password } });
}

/** Logs out on the server (best effort) and always forgets the tokens. */
export async function logout() {
  const current = session;
  try {
    if (current) {
      await send('POST', '/auth/logout', {
        token: current.access,
        body: { refresh_token: current.refresh },
      });
    }
  } catch {
    // an expired or revoked token is logged out already
  } finally {
    clearSession();
  }
}

export const me = () => authed('GET', '/auth/me');
export const changePassword = (current_password, new_password) =>
  authed('PUT', '/auth/password', { current_password, new_password });
export const deleteAccount = (password) => authed('DELETE', '/auth/me', { password });
export const listEntries = (page, perPage) =>
  authed('GET', `/diaries?page=${encodeURIComponent(page)}&per_page=${encodeURIComponent(perPage)}`);
export const createEntry = (content) => authed('POST', '/diaries', { content });
export const updateEntry = (id, content) => authed('PUT', `/diaries/${encodeURIComponent(id)}`, { content });
export const deleteEntry = (id) => authed('DELETE', `/diaries/${encodeURIComponent(id)}`);
export const stats = () => authed('GET', '/diaries/stats');
