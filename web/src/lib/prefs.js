// Notification preferences, kept per user in this browser: localStorage
// `switchboard.notify.<user id>` = {message, status, connection, sound} (booleans). Not on the
// server: another browser starts from the defaults. Read by RealtimeNotificationSystem (which
// live events toast) and notify.js (a short tone for a live toast when `sound` is on).
import { createStore } from './store.js';

export const NOTIFY_KINDS = [
  { id: 'message', label: 'New system messages' },
  { id: 'status', label: 'Agent status changes' },
  { id: 'connection', label: 'Connection lost / reconnected' },
];
export const DEFAULT_PREFS = { message: true, status: true, connection: true, sound: false };

const key = (userId) => `switchboard.notify.${userId}`;
let currentUser = null;

export const notifyPrefs = createStore({ ...DEFAULT_PREFS });

function read(userId) {
  try {
    const v = JSON.parse(localStorage.getItem(key(userId)) || 'null');
    if (!v || typeof v !== 'object') return { ...DEFAULT_PREFS };
    const out = { ...DEFAULT_PREFS };
    for (const k of Object.keys(DEFAULT_PREFS)) if (typeof v[k] === 'boolean') out[k] = v[k];
    return out;
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

// Loads the preferences of the signed-in user (null: the defaults, nothing stored).
export function loadPrefs(userId) {
  currentUser = userId || null;
  notifyPrefs.set(currentUser ? read(currentUser) : { ...DEFAULT_PREFS });
}

export function setPref(name, value) {
  if (!(name in DEFAULT_PREFS)) return;
  const next = { ...notifyPrefs.get(), [name]: !!value };
  notifyPrefs.set(next);
  if (currentUser) {
    try {
      localStorage.setItem(key(currentUser), JSON.stringify(next));
    } catch {
      /* storage full or refused: the choice lasts for this page only */
    }
  }
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
