// api.js — the client of the gateway's HTTP API (gateway/docs/openapi.json), same origin.
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
// Refresh this long before the access token expires, but never more than a
// quarter of its lifetime: with JWT_ACCESS_TTL under 30 s (services/auth/config.c
// allows 1 s) a fixed 30 s margin would refresh before every call.
const REFRESH_MARGIN_MAX_S = 30;
const REFRESH_MARGIN_SHARE = 0.25;

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

// Requests are numbered as they start; availability follows the newest one
// that has answered. A slow answer to an older request (a list fetched
// before the backend went down) must not hide the banner a newer failure
// raised, nor the reverse.
let requestsStarted = 0;
let availabilityFrom = 0;

function reportAvailability(seq, up, err) {
  if (seq < availabilityFrom) return;
  availabilityFrom = seq;
  emit('availability', up, err);
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

/** The JWT's claims (not verified: only the server can), or null. */
function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/**
 * True when an access token with these claims should be refreshed before
 * use at `nowS` (seconds): within min(30 s, a quarter of its lifetime) of
 * its exp, or when exp cannot be read. Exported for the browser tests.
 */
export function refreshDue(claims, nowS) {
  if (!claims || typeof claims.exp !== 'number') return true;
  const lifetime =
    typeof claims.iat === 'number' && claims.exp > claims.iat ? claims.exp - claims.iat : REFRESH_MARGIN_MAX_S * 4;
  const margin = Math.min(REFRESH_MARGIN_MAX_S, lifetime * REFRESH_MARGIN_SHARE);
  return claims.exp - nowS < margin;
}

/** The logged-in account's id (the access token's sub), or null. */
export function userId() {
  const claims = session && claimsOf(session.access);
  return claims && (typeof claims.sub === 'string' || typeof claims.sub === 'number') ? String(claims.sub) : null;
}

/** One HTTP exchange; resolves with the parsed JSON or throws an ApiError. */
async function send(method, path, { body, token, raw = false } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const seq = ++requestsStarted;
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
    reportAvailability(seq, false, err);
    throw err;
  }
  if (raw && res.ok) {
    reportAvailability(seq, true);
    return res; // a download: the caller reads the body
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
  if (!unavailable) reportAvailability(seq, true);
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
  if (unavailable) reportAvailability(seq, false, err);
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
export async function authed(method, path, body, { raw = false } = {}) {
  if (!session) {
    endSession(SESSION_EXPIRED);
    throw new ApiError({ status: 401, code: 'missing_token', message: SESSION_EXPIRED });
  }
  if (refreshing) await refreshing;
  else if (refreshDue(claimsOf(session.access), Date.now() / 1000)) await refresh();
  try {
    return await send(method, path, { body, token: session.access, raw });
  } catch (err) {
    if (err.status !== 401 || !TOKEN_ERRORS.has(err.code)) throw err;
    if (err.code === 'token_revoked') {
      endSession(SESSION_REVOKED);
      throw err;
    }
  }
  await refresh(); // expired or not accepted: one fresh access token, one retry
  try {
    return await send(method, path, { body, token: session.access, raw });
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
/** The browser's IANA time zone, for the API's `tz` (dates are read in it). */
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/**
 * The query string of the diary filters (q, tone, from, to; tz with dates),
 * per the GET /diaries parameters of gateway/docs/openapi.json. The API's
 * `to` is exclusive; the app's `to` (a YYYY-MM-DD the reader picked) means
 * "up to and including that day", so the day after is sent.
 */
export function filterQuery({ q = '', tone = '', from = '', to = '' } = {}) {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (tone) p.set('tone', tone);
  if (from) p.set('from', from);
  if (to) {
    const d = new Date(`${to}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    p.set('to', d.toISOString().slice(0, 10));
  }
  if (from || to) p.set('tz', timeZone());
  return p;
}

export const listEntries = (page, perPage, filters = {}) => {
  const p = filterQuery(filters);
  p.set('page', String(page));
  p.set('per_page', String(perPage));
  return authed('GET', `/diaries?${p}`);
};
export const createEntry = (content) => authed('POST', '/diaries', { content });
export const updateEntry = (id, content) => authed('PUT', `/diaries/${encodeURIComponent(id)}`, { content });
export const deleteEntry = (id) => authed('DELETE', `/diaries/${encodeURIComponent(id)}`);
export const stats = () => authed('GET', '/diaries/stats');
export const timeline = (bucket) =>
  authed('GET', `/diaries/stats/timeline?bucket=${encodeURIComponent(bucket)}&tz=${encodeURIComponent(timeZone())}`);
export const phrases = (limit = 10) =>
  authed('GET', `/diaries/stats/phrases?limit=${encodeURIComponent(limit)}&tz=${encodeURIComponent(timeZone())}`);
export const importEntries = (exported) => authed('POST', '/diaries/import', exported);

/** GET /diaries/export as {blob, filename}; format is 'json' or 'markdown'. */
export async function exportEntries(format) {
  const path = `/diaries/export?format=${encodeURIComponent(format)}&tz=${encodeURIComponent(timeZone())}`;
  const res = await authed('GET', path, undefined, { raw: true });
  const disposition = res.headers.get('Content-Disposition') || '';
  const m = /filename="([^"\\/]+)"/.exec(disposition);
  const fallback = `thought-diary.${format === 'markdown' ? 'md' : 'json'}`;
  return { blob: await res.blob(), filename: m ? m[1] : fallback };
}
