// Notification preferences of the signed-in user: {message, status, connection, sound}
// (booleans). Kept on the server per user (GET/PUT /api/v1/me/preferences), so they follow the
// user to another browser. localStorage `switchboard.notify.<user id>` only caches them, so the
// first paint after a reload already has the user's choices; the server's answer then wins.
// Other tabs of this browser follow a change at once (the cache's storage event); a tab that
// comes back into view asks the server again (a change made in another browser).
// Read by RealtimeNotificationSystem (which live events toast) and notify.js (a short tone for
// a live toast when `sound` is on).
import { api } from './api.js';
import { createStore } from './store.js';

export const NOTIFY_KINDS = [
  { id: 'message', label: 'New system messages' },
  { id: 'status', label: 'Agent status changes' },
  { id: 'connection', label: 'Connection lost / reconnected' },
];
// The server's defaults too (src/svc/prefs.c): what a user who never saved any gets.
export const DEFAULT_PREFS = { message: true, status: true, connection: true, sound: false };
const PATH = '/api/v1/me/preferences';

const key = (userId) => `switchboard.notify.${userId}`;
let currentUser = null;
// Bumped by every load and every change: an answer that arrives after a newer one was asked
// for (or after a local change) is stale and ignored.
let generation = 0;
// The preferences the server last confirmed (what a failed save rolls back to).
let confirmed = { ...DEFAULT_PREFS };
// PUTs go one after another, in the order of the changes, so the last change is the one kept.
let saving = Promise.resolve();
let pending = 0; // saves not answered yet

export const notifyPrefs = createStore({ ...DEFAULT_PREFS });
// Where the shown preferences come from: {source: 'defaults' | 'cache' | 'server',
// state: 'idle' | 'loading' | 'saving' | 'saved' | 'error'}.
export const prefsSync = createStore({ source: 'defaults', state: 'idle' });

function clean(v) {
  const out = { ...DEFAULT_PREFS };
  if (v && typeof v === 'object') {
    for (const k of Object.keys(DEFAULT_PREFS)) if (typeof v[k] === 'boolean') out[k] = v[k];
  }
  return out;
}

function readCache(userId) {
  try {
    const raw = localStorage.getItem(key(userId));
    return raw ? clean(JSON.parse(raw)) : null;
  } catch {
    return null;
  }
}

function writeCache(userId, prefs) {
  try {
    localStorage.setItem(key(userId), JSON.stringify(prefs));
  } catch {
    /* storage full or refused: the server still has them */
  }
}

function adopt(userId, prefs) {
  confirmed = clean(prefs);
  notifyPrefs.set({ ...confirmed });
  writeCache(userId, confirmed);
}

// Loads the preferences of the signed-in user (null: the defaults, nothing stored): the
// cached copy at once, then the server's. Resolves when the server answered (or failed).
export async function loadPrefs(userId) {
  currentUser = userId || null;
  const gen = ++generation;
  const cached = currentUser ? readCache(currentUser) : null;
  confirmed = cached || { ...DEFAULT_PREFS };
  notifyPrefs.set({ ...confirmed });
  if (!currentUser) {
    prefsSync.set({ source: 'defaults', state: 'idle' });
    return;
  }
  prefsSync.set({ source: cached ? 'cache' : 'defaults', state: 'loading' });
  try {
    const prefs = await api('GET', PATH);
    if (gen !== generation || userId !== currentUser) return;
    adopt(currentUser, prefs);
    prefsSync.set({ source: 'server', state: 'idle' });
  } catch {
    if (gen !== generation) return;
    // Offline or signed out meanwhile: keep what is shown; the next login loads again.
    prefsSync.set({ ...prefsSync.get(), state: 'error' });
  }
}

// Changes one preference: shown (and cached) at once, then saved on the server. A save the
// server refuses rolls back to what it last confirmed; the returned promise then rejects with
// the ApiError.
export function setPref(name, value) {
  if (!(name in DEFAULT_PREFS)) return Promise.resolve();
  const next = { ...notifyPrefs.get(), [name]: !!value };
  notifyPrefs.set(next);
  const userId = currentUser;
  if (!userId) return Promise.resolve();
  writeCache(userId, next);
  const gen = ++generation;
  prefsSync.set({ ...prefsSync.get(), state: 'saving' });
  pending++;
  const run = saving.then(async () => {
    try {
      const stored = await api('PUT', PATH, { body: next });
      if (userId !== currentUser) return;
      confirmed = clean(stored);
      if (gen === generation) {
        adopt(userId, stored);
        prefsSync.set({ source: 'server', state: 'saved' });
      }
    } catch (err) {
      if (userId !== currentUser) return;
      if (gen === generation) {
        adopt(userId, confirmed);
        prefsSync.set({ ...prefsSync.get(), state: 'error' });
      }
      throw err;
    } finally {
      pending--;
    }
  });
  saving = run.catch(() => {});
  return run;
}

// Another tab of this browser changed (or rolled back, or had confirmed) the signed-in user's
// preferences: its cache write shows here at once. Not while a save of this tab is on its way:
// that save is the newer change, and its answer is written to the cache (and so reaches the
// other tab) in its turn. A read of this tab still in flight is older than the change and is
// ignored.
function onStorage(e) {
  if (!currentUser || e.key !== key(currentUser) || e.newValue === null || pending > 0) return;
  let v;
  try {
    v = JSON.parse(e.newValue);
  } catch {
    return;
  }
  generation++;
  confirmed = clean(v);
  notifyPrefs.set({ ...confirmed });
  if (prefsSync.get().state === 'loading') prefsSync.set({ ...prefsSync.get(), state: 'idle' });
}

// Back to a tab: another browser may have changed them; ask the server again (unless a save of
// this tab is on its way, whose answer is newer than what a read could bring).
function onVisible() {
  if (document.visibilityState === 'visible' && currentUser && pending === 0) loadPrefs(currentUser);
}

if (typeof window !== 'undefined') {
  window.addEventListener('storage', onStorage);
  document.addEventListener('visibilitychange', onVisible);
}

// Should a live event of this kind ('message', 'status', 'connection') show a toast?
export function wants(kind) {
  const p = notifyPrefs.get();
  return p[kind] !== false;
}

// A short tone (Web Audio, no file). Returns whether one was started.
let audio = null;
export function beep(priority) {
  if (!notifyPrefs.get().sound) return false;
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return false;
    if (!audio) audio = new AC();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = priority === 'critical' ? 880 : 660;
    g.gain.value = 0.05;
    o.connect(g);
    g.connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.15);
    return true;
  } catch {
    return false;
  }
}
