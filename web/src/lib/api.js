// HTTP client for /api/v1: bearer auth, token refresh ~60 s before expiry, single-flight
// refresh on 401, and a typed error (ApiError) carrying the server's {error:{code,...}} body.
// Tokens live in sessionStorage (per tab, gone when the tab closes).
import { createStore } from './store.js';

const KEY = 'switchboard.session';
const REFRESH_EARLY_S = 60;

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.access_token ? s : null;
  } catch {
    return null;
  }
}

// {access_token, refresh_token, expires_at (ms epoch), user} or null.
export const session = createStore(load());

let refreshTimer = null;
let refreshing = null;
// While a logout is on its way to the server, no other request is sent: realtime is stopped
// first and api() refuses locally, so nothing races the revocation into a 401.
let leaving = false;
// Log out everywhere is on its way (it revokes this tab's tokens too): a realtime close for a
// revoked token is expected, not checked.
let revoking = false;
// A password change is on its way: settled once its answer (new tokens for this tab) is
// saved. The server revokes the old tokens before it answers, so a refresh refused meanwhile
// waits for it instead of ending the session.
let replacing = null;

function save(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  session.set(s);
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  const s = session.get();
  if (!s || !s.refresh_token || !s.expires_at) return;
  const delay = Math.max(1000, s.expires_at - Date.now() - REFRESH_EARLY_S * 1000);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {});
  }, Math.min(delay, 2 ** 31 - 1));
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || e.code || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'network_error' : `http_${status}`);
    this.details = e.details || null;
    this.current = e.current || null;
    this.body = body;
  }
}

function fromLogin(body) {
  const expiresIn = Number(body.expires_in) || 900;
  return {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    expires_at: Date.now() + expiresIn * 1000,
    user: body.user || (session.get() && session.get().user) || null,
  };
}

async function raw(method, path, { body, headers = {}, token } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (token) h.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, { error: { code: 'network_error', message: 'Cannot reach the server' } });
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: { code: 'bad_response', message: text.slice(0, 200) } };
    }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Listeners told when the access token changes (realtime) or the session ends.
const tokenListeners = new Set();
export function onToken(fn) {
  tokenListeners.add(fn);
  return () => tokenListeners.delete(fn);
}
function announce(s) {
  for (const fn of [...tokenListeners]) fn(s ? s.access_token : null);
}

export async function login(email, password) {
  const body = await raw('POST', '/api/v1/auth/login', { body: { email, password } });
  const s = fromLogin(body);
  save(s);
  announce(s);
  return s;
}

// Changes the signed-in user's password (the current one required). The server ends every
// session of the user and answers with a new session for this tab, which replaces the old
// tokens (realtime gets the new one). Throws the ApiError (422 details name the field).
// Other requests refused meanwhile with the old tokens wait for the answer (`replacing`).
export async function changePassword(current, next) {
  const opts = { body: { current_password: current, new_password: next } };
  const old = session.get();
  if (!old) return api('POST', '/api/v1/me/password', opts); // refused: back to the login page
  let settle;
  replacing = new Promise((resolve) => (settle = resolve));
  let body;
  try {
    body = await raw('POST', '/api/v1/me/password', { ...opts, token: old.access_token });
  } catch (err) {
    replacing = null;
    settle();
    if (err.status !== 401) throw err;
    // The access token expired (nothing was revoked): refreshed and retried as any request.
    body = await api('POST', '/api/v1/me/password', opts);
  }
  try {
    const s = fromLogin(body);
    if (!s.user) s.user = old.user;
    save(s);
    announce(s);
    return s;
  } finally {
    replacing = null;
    settle();
  }
}

// Sets a password with a one-time reset token (no session needed): POST /api/v1/auth/reset.
// Throws the ApiError (422 details name token or new_password).
export function resetPassword(token, newPassword) {
  return raw('POST', '/api/v1/auth/reset', { body: { token, new_password: newPassword } });
}

// Downloads a list as CSV (`?format=csv` with the list's filters and sort): fetched with the
// bearer token (a link could not carry it), saved under the server's file name.
export async function downloadCsv(path, fallbackName) {
  const sep = path.includes('?') ? '&' : '?';
  const url = `${path}${sep}format=csv`;
  const go = async (token) => {
    let res;
    try {
      res = await fetch(url, { headers: { Accept: 'text/csv', Authorization: `Bearer ${token}` }, cache: 'no-store' });
    } catch {
      throw new ApiError(0, { error: { code: 'network_error', message: 'Cannot reach the server' } });
    }
    if (!res.ok) {
      let data = null;
      try {
        data = await res.json();
      } catch {
        data = null;
      }
      throw new ApiError(res.status, data);
    }
    return res;
  };
  const s = session.get();
  if (!s) throw new ApiError(401, null);
  let res;
  try {
    res = await go(s.access_token);
  } catch (err) {
    if (err.status !== 401) throw err;
    res = await go((await refresh()).access_token);
  }
  const blob = await res.blob();
  const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const name = (m && m[1]) || fallbackName || 'export.csv';
  saveBlob(blob, name);
  return { name, bytes: blob.size };
}

// Hands blob to the browser as a download named name.
export function saveBlob(blob, name) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

// Rotates the token pair; on failure the session ends (back to the login page).
export function refresh() {
  if (refreshing) return refreshing;
  if (leaving) return Promise.reject(new ApiError(401, null));
  const s = session.get();
  if (!s || !s.refresh_token) return Promise.reject(new ApiError(401, null));
  refreshing = raw('POST', '/api/v1/auth/refresh', { body: { refresh_token: s.refresh_token } })
    .then((body) => {
      const next = fromLogin(body);
      if (!next.user) next.user = s.user;
      save(next);
      announce(next);
      return next;
    })
    .catch(async (err) => {
      // A password change on its way revoked this pair before it answers: its answer decides.
      if (replacing) await replacing;
      // The session was replaced while this refresh was on its way (a password change or a
      // login answered with new tokens, and the server revoked the old pair): the refusal is
      // about tokens no longer in use, so the new session stands.
      const now = session.get();
      if (now && now !== s) return now;
      // A network failure is not a rejection of the token: retry later, keep the session.
      if (err.status === 0) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => refresh().catch(() => {}), 5000);
      } else {
        endSession();
      }
      throw err;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export function endSession() {
  save(null);
  announce(null);
  if (!location.hash.startsWith('#/login')) location.hash = '#/login';
}

export async function logout() {
  const s = session.get();
  if (s) {
    leaving = true;
    announce(null);
    try {
      await raw('POST', '/api/v1/auth/logout', {
        token: s.access_token,
        body: { refresh_token: s.refresh_token },
      });
    } catch {
      /* the session ends locally anyway */
    }
  }
  leaving = false;
  endSession();
}

// Ends every session of the user (every device and tab), then this one locally. Throws (and
// keeps the session) when the server could not be told, except when it already rejects the
// token (401: the session is gone anyway). This tab's realtime connection stops first: the
// revocation closes it, and the session check that close starts would go out with the
// revoked token (a 401 in the console) while the answer is on its way.
export async function logoutEverywhere() {
  const s = session.get();
  if (!s) return endSession();
  revoking = true;
  announce(null);
  try {
    await api('POST', '/api/v1/auth/logout', { body: { everywhere: true } });
  } catch (err) {
    if (err.status !== 401) {
      revoking = false;
      announce(session.get()); // still logged in: realtime starts again
      throw err;
    }
  }
  revoking = false;
  endSession();
}

// Is the session still good? A GET /api/v1/me answers: a 401 refreshes once, and a rejected
// refresh ends the session (back to the login page). Used when the realtime server reports a
// revoked or expired token. At most one check in flight.
let checking = null;
export function checkSession() {
  if (checking || leaving || revoking || !session.get()) return checking || Promise.resolve();
  checking = api('GET', '/api/v1/me')
    .catch(() => {})
    .finally(() => {
      checking = null;
    });
  return checking;
}

// Authenticated request. A 401 triggers one refresh + retry; a second 401 ends the session.
export async function api(method, path, opts = {}) {
  const s = session.get();
  if (leaving) throw new ApiError(401, { error: { code: 'unauthorized', message: 'Logging out' } });
  if (!s) {
    endSession();
    throw new ApiError(401, null);
  }
  try {
    return await raw(method, path, { ...opts, token: s.access_token });
  } catch (err) {
    if (err.status !== 401) throw err;
    // Tokens replaced while the request was on its way: retry with them, no refresh.
    const now = session.get();
    let next = now && now !== s ? now : null;
    if (!next) {
      try {
        next = await refresh();
      } catch {
        throw err;
      }
    }
    try {
      return await raw(method, path, { ...opts, token: next.access_token });
    } catch (err2) {
      if (err2.status === 401 && session.get() === next) endSession();
      throw err2;
    }
  }
}

export const get = (path) => api('GET', path);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

scheduleRefresh();
