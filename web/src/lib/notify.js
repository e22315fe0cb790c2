// Notification queue behind RealtimeNotificationSystem. Realtime events go through a
// throttle (collected for WINDOW_MS, deduplicated by key); a window with more than BURST events
// becomes one summary toast. Direct notifications (errors of the user's own actions) show at
// once. The `announce` store holds the text for the aria-live region.
import { createStore } from './store.js';
import { createThrottle } from './merge.js';
import { beep } from './prefs.js';

export const WINDOW_MS = 700;
export const BURST = 3;
const MAX_TOASTS = 5;
const TTL = { low: 4000, normal: 5000, high: 8000, critical: 0, error: 8000, action: 10000 };

export const toasts = createStore([]);
export const announce = createStore({ polite: '', assertive: '' });

let nextId = 1;
const throttle = createThrottle({ windowMs: WINDOW_MS, burst: BURST });
let flushTimer = null;
const recentDirect = new Map();

function ttlFor(t) {
  if (t.kind === 'error') return TTL.error;
  if (t.action) return TTL.action;
  return TTL[t.priority] ?? TTL.normal;
}

// t.live: a realtime event (the only toasts that may sound); t.action: {label, run} adds a
// button (e.g. Undo) that runs once and closes the toast.
function show(t) {
  const toast = { id: nextId++, priority: 'normal', kind: 'info', ...t };
  if (toast.live) toast.sound = beep(toast.priority);
  toasts.set((list) => {
    let out = list.concat([toast]);
    while (out.length > MAX_TOASTS) {
      const i = out.findIndex((x) => x.priority !== 'critical');
      out.splice(i >= 0 ? i : 0, 1);
    }
    return out;
  });
  const ttl = ttlFor(toast);
  if (ttl > 0) setTimeout(() => dismiss(toast.id), ttl);
  const text = [toast.title, toast.body].filter(Boolean).join(': ');
  if (toast.priority === 'critical' || toast.kind === 'error') announce.set((a) => ({ ...a, assertive: text }));
  else announce.set((a) => ({ ...a, polite: text }));
}

export function dismiss(id) {
  toasts.set((list) => list.filter((t) => t.id !== id));
}

// Shows at once (deduplicated by key for 3 s).
export function notify(t) {
  const now = Date.now();
  if (t.key) {
    if (now - (recentDirect.get(t.key) || 0) < 3000) return;
    recentDirect.set(t.key, now);
  }
  show(t);
}

function flush() {
  flushTimer = null;
  const { items, summary } = throttle.flush();
  if (summary) {
    const byKind = {};
    let top = 'low';
    const order = ['low', 'normal', 'high', 'critical'];
    for (const it of summary.items) {
      byKind[it.group || 'update'] = (byKind[it.group || 'update'] || 0) + 1;
      if (order.indexOf(it.priority || 'normal') > order.indexOf(top)) top = it.priority || 'normal';
    }
    const parts = Object.entries(byKind).map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`);
    show({ live: true, kind: 'summary', priority: top === 'critical' ? 'high' : top, title: `${summary.count} live updates`, body: parts.join(', '), count: summary.count });
    return;
  }
  for (const it of items) show({ ...it, live: true });
}

// Throttled path for realtime events: {key, group, priority, title, body}.
export function notifyEvent(item) {
  if (!throttle.push(item)) return;
  if (!flushTimer) flushTimer = setTimeout(flush, WINDOW_MS);
}
