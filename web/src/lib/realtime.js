// One RealtimeClient per signed-in tab, its connection state as a store, and helpers to
// subscribe to postgres_changes / broadcast channels.
//
// Connection states (the `conn` store): connecting | connected | reconnecting | offline.
// realtime-js reconnects by itself on a 1, 2, 5, 10, 10... s schedule; we pass the same
// schedule as `reconnectAfterMs` so we learn each delay when it is chosen and can show a
// countdown (`conn.retryAt`).
import { RealtimeClient } from '@supabase/realtime-js';
import { createStore } from './store.js';

export const RECONNECT_STEPS_MS = [1000, 2000, 5000, 10000];

export const conn = createStore({ state: 'offline', retryAt: null, attempt: 0, since: Date.now(), error: null });

let client = null;
let params = null;
let stopped = true;
let connectingTimer = null;
let seq = 0;

function setConn(patch) {
  conn.set((c) => ({ ...c, ...patch, since: patch.state && patch.state !== c.state ? Date.now() : c.since }));
}

function wsURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/realtime/v1`;
}

// Chooses the delay before reconnect number `tries` and shows it. `live()` says whether the
// client asking is still this tab's client: a client being stopped (its channels still
// leaving) must not touch the state of the one that replaced it.
function reconnectAfterMs(tries, live) {
  const ms = RECONNECT_STEPS_MS[tries - 1] || RECONNECT_STEPS_MS[RECONNECT_STEPS_MS.length - 1];
  if (live()) {
    const online = typeof navigator === 'undefined' || navigator.onLine !== false;
    setConn({ state: online ? 'reconnecting' : 'offline', retryAt: Date.now() + ms, attempt: tries });
    clearTimeout(connectingTimer);
    connectingTimer = setTimeout(() => {
      if (live() && conn.get().state !== 'connected') setConn({ state: 'connecting', retryAt: null });
    }, ms);
  }
  return ms;
}

// Told when the server signals that the token was revoked or expired: a close with code 4001
// (WS_CLOSE_AUTH) or a `system` error about the token on any channel. The session check
// (api.checkSession) decides whether the session really ended.
const authListeners = new Set();
export function onAuthTrouble(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}
function authTrouble(why) {
  if (stopped) return;
  for (const fn of [...authListeners]) fn(why);
}
const AUTH_CLOSE = 4001;
const TOKEN_ERROR = /token|jwt|revoked|expired|unauthori[sz]ed/i;

export function getClient() {
  return client;
}

// Every handler of a client checks that it is still the tab's client: after a logout the old
// client goes on for a while (its channels wait for their leave replies, its socket may try a
// reconnect with the revoked token), and its events must not reach the state of the client
// of the next login.
export function startRealtime(token) {
  if (client) {
    updateToken(token);
    return client;
  }
  stopped = false;
  params = { apikey: token };
  let mine = null;
  const live = () => !stopped && mine !== null && client === mine;
  mine = new RealtimeClient(wsURL(), {
    params,
    reconnectAfterMs: (tries) => reconnectAfterMs(tries, live),
    heartbeatIntervalMs: 25000,
    // The notification channel is always open; never drop the socket for lack of channels.
    disconnectOnEmptyChannelsAfterMs: 24 * 3600 * 1000,
  });
  client = mine;
  const sock = client.socketAdapter;
  sock.onOpen(() => {
    if (!live()) return;
    clearTimeout(connectingTimer);
    setConn({ state: 'connected', retryAt: null, attempt: 0, error: null });
  });
  sock.onError((e) => {
    if (live()) setConn({ error: (e && e.message) || 'connection error' });
  });
  sock.onClose((ev) => {
    if (!live()) return;
    if (ev && ev.code === AUTH_CLOSE) authTrouble(ev.reason || 'token revoked');
    const c = conn.get();
    if (c.state === 'connected' || c.state === 'connecting') {
      setConn({ state: navigator.onLine === false ? 'offline' : 'reconnecting' });
    }
  });
  sock.onMessage((msg) => {
    if (!live()) return;
    const p = msg && msg.payload;
    if (msg && msg.event === 'system' && p && p.status === 'error' && TOKEN_ERROR.test(String(p.message || ''))) {
      authTrouble(String(p.message));
    }
  });
  setConn({ state: 'connecting', retryAt: null, attempt: 0, error: null });
  client.setAuth(token).catch(() => {});
  client.connect();
  return client;
}

// After a token refresh: future reconnects use the new apikey, joined channels get the new
// access_token.
export function updateToken(token) {
  if (!client || !token) return;
  params.apikey = token;
  client.setAuth(token).catch(() => {});
}

export async function stopRealtime() {
  stopped = true;
  clearTimeout(connectingTimer);
  const c = client;
  client = null;
  setConn({ state: 'offline', retryAt: null, attempt: 0 });
  if (c) {
    // Leave the channels (so presence ends at once, not after the server's grace), but not for
    // longer than a second: a socket closed by the logout itself would otherwise keep retrying
    // with the revoked token until every leave timed out.
    let timer;
    try {
      await Promise.race([c.removeAllChannels(), new Promise((resolve) => { timer = setTimeout(resolve, 1000); })]);
    } catch {
      /* closing anyway */
    }
    clearTimeout(timer);
    c.disconnect();
  }
}

// Retry button: cancel the pending back-off and connect now. After a lost connection the
// Phoenix socket still holds the dead WebSocket, so client.connect() alone is a no-op (and
// resetting the timer would cancel the only pending attempt): run what the reconnect timer
// runs instead (tear the dead socket down, re-auth, connect), with the back-off restarted.
export function retryNow() {
  if (!client || client.isConnected() || client.isConnecting()) return;
  clearTimeout(connectingTimer);
  setConn({ state: 'connecting', retryAt: null });
  const sock = client.socketAdapter && typeof client.socketAdapter.getSocket === 'function' ? client.socketAdapter.getSocket() : null;
  const timer = sock && sock.reconnectTimer;
  if (timer && typeof timer.callback === 'function' && typeof timer.reset === 'function') {
    timer.reset();
    timer.callback();
  } else {
    client.connect();
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => {
    if (client && !stopped) setConn({ state: 'offline' });
  });
  window.addEventListener('online', () => {
    if (client && !stopped) retryNow();
  });
}

// Leaves a channel and forgets it at once, so a page that remounts can open the same topic
// again without getting the leaving channel back from client.channel().
function closeChannel(ch, owner) {
  try {
    ch.unsubscribe().catch(() => {});
  } catch {
    /* already closed */
  }
  if (typeof owner._remove === 'function') owner._remove(ch);
}

// Subscribes to postgres_changes on one table. onEvent(payload) gets realtime-js' shape
// {eventType, new, old, table, commit_timestamp}; onStatus(status, err, firstTime) gets
// SUBSCRIBED / CHANNEL_ERROR / TIMED_OUT / CLOSED (SUBSCRIBED again after every rejoin).
// Returns an unsubscribe function.
export function subscribeTable({ table, filter, event = '*' }, onEvent, onStatus) {
  if (!client) return () => {};
  const ch = client.channel(`${table}:${++seq}`);
  const spec = { event, schema: 'public', table };
  if (filter) spec.filter = filter;
  ch.on('postgres_changes', spec, (p) => onEvent(p));
  let joins = 0;
  ch.subscribe((status, err) => {
    if (status === 'SUBSCRIBED') joins++;
    if (onStatus) onStatus(status, err, joins === 1);
  });
  const owner = client;
  return () => closeChannel(ch, owner);
}

// A general channel (broadcast, presence, several bindings). `setup(ch)` adds bindings.
export function openChannel(name, config, setup, onStatus) {
  if (!client) return { channel: null, close() {} };
  const owner = client;
  const ch = client.channel(name, { config: config || {} });
  if (setup) setup(ch);
  ch.subscribe((status, err) => onStatus && onStatus(status, err));
  return {
    channel: ch,
    close() {
      closeChannel(ch, owner);
    },
  };
}
