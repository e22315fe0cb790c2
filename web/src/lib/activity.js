// Tells the server that the person at an agent's panel is active (the server's --idle-away
// moves a connected agent without activity from online to away, and back at the next
// activity). On pointer or key input, at most once every 30 s, the panel sends a broadcast
// `activity` on the tab's own channel `activity:<user id>` (self off, so nobody receives it).
// Heartbeats are not activity: a panel left alone lets its agent go away.
import { session } from './api.js';
import { conn, getClient } from './realtime.js';

const EVERY_MS = 30000;
let last = 0;
let channel = null;
let channelClient = null;
let channelUser = null;

function activityChannel(client, userId) {
  if (channel && channelClient === client && channelUser === userId) return channel;
  if (channel && channelClient === client) client.removeChannel(channel);
  channel = client.channel(`activity:${userId}`, { config: { broadcast: { self: false } } });
  channel.subscribe();
  channelClient = client;
  channelUser = userId;
  return channel;
}

// The channel of the signed-in agent on the current client, joined ahead of the first input.
function agentChannel() {
  const s = session.get();
  const client = getClient();
  if (!s || !s.user || s.user.role !== 'agent' || !client) return null;
  return activityChannel(client, s.user.id);
}

function onInput() {
  const now = Date.now();
  if (now - last < EVERY_MS) return;
  const ch = agentChannel();
  if (!ch) return;
  // Only over the socket: realtime-js would fall back to an HTTP endpoint when not joined.
  if (ch.state !== 'joined') return;
  last = now;
  ch.send({ type: 'broadcast', event: 'activity', payload: {} }).catch(() => {});
}

export function installActivityReporting() {
  for (const ev of ['pointerdown', 'keydown']) window.addEventListener(ev, onInput, { capture: true, passive: true });
  conn.subscribe((c) => {
    if (c.state === 'connected') agentChannel();
  });
}
