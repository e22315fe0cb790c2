// Idle -> away (--idle-away): a connected agent without activity goes from online to away
// (reason "idle", changed by "system"); heartbeats are not activity; a broadcast (or presence
// track, or the agent's own API write) brings it back online; a status the agent chose
// (busy) is never touched. Real server, real WebSocket client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login } from './lib/server.mjs';
import { RawClient, sleep, startRtServer, until } from './lib/rt_helpers.mjs';

const IDLE_MS = 1500;
let s;
let admin;

before(async () => {
  s = await startRtServer({ args: ['--idle-away', `${IDLE_MS}ms`, '--presence-grace', '60s', '--login-attempts', '100'] });
  admin = (await login(s.url, 'admin@acme.test')).access_token;
});

after(async () => { await s?.cleanup(); });

async function agentOf(email) {
  const me = (await api(s.url, 'GET', '/api/v1/users?email=' + encodeURIComponent(email), { token: admin })).json.data[0];
  const r = await api(s.url, 'GET', '/api/v1/agents?limit=100', { token: admin });
  return r.json.data.find((a) => a.user_id === me.id);
}

const statusOf = async (id) => (await api(s.url, 'GET', `/api/v1/agents/${id}`, { token: admin })).json;

test('an idle agent goes away, heartbeats do not count, a broadcast brings it back', { timeout: 30000 }, async () => {
  const agent = await login(s.url, 'agent1@acme.test');
  const row = await agentOf('agent1@acme.test');
  const ws = await new RawClient(s.wsUrl, agent.access_token).open();
  try {
    const join = await ws.join('realtime:activity');
    assert.equal(join.payload.status, 'ok');
    const t0 = Date.now();
    let r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: agent.access_token, body: { status: 'online' } });
    assert.equal(r.status, 200);
    // Heartbeats keep the socket alive but are not activity.
    const beat = setInterval(() => ws.send('phoenix', 'heartbeat'), 300);
    let away;
    try {
      away = await until(async () => {
        const x = await statusOf(row.id);
        return x.status === 'away' ? x : null;
      }, { timeoutMs: IDLE_MS + 5000, stepMs: 100, what: 'agent away' });
    } finally {
      clearInterval(beat);
    }
    assert.ok(Date.now() - t0 >= IDLE_MS, `away only after ${IDLE_MS} ms of no activity (${Date.now() - t0} ms)`);
    assert.equal(away.reason, 'idle');
    assert.equal(away.updated_by, null);
    const hist = await api(s.url, 'GET', `/api/v1/agents/${row.id}/history`, { token: admin });
    assert.equal(hist.json.data.at(-1).changed_by, 'system');
    assert.equal(hist.json.data.at(-1).status, 'away');

    // Activity: a broadcast on any joined channel.
    ws.send('realtime:activity', 'broadcast', { type: 'broadcast', event: 'activity', payload: {} }, join.join_ref ?? '1');
    const back = await until(async () => {
      const x = await statusOf(row.id);
      return x.status === 'online' ? x : null;
    }, { timeoutMs: 3000, stepMs: 100, what: 'agent back online' });
    assert.equal(back.reason, null);

    // The agent's own API writes are activity too: while it keeps writing it stays online.
    const end = Date.now() + IDLE_MS * 2;
    while (Date.now() < end) {
      r = await api(s.url, 'POST', `/api/v1/messages`, { token: agent.access_token, body: {} });
      assert.notEqual(r.status, 200); // refused (agents may not create messages), still activity
      await sleep(300);
      assert.equal((await statusOf(row.id)).status, 'online');
    }
    r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: agent.access_token, body: { status: 'busy', reason: 'on a call' } });
    assert.equal(r.status, 200);
    // A status the agent chose is left alone however long it idles.
    await sleep(IDLE_MS + 1000);
    const busy = await statusOf(row.id);
    assert.equal(busy.status, 'busy');
    assert.equal(busy.reason, 'on a call');
  } finally {
    ws.close();
  }
});

test('an away the agent chose is not undone by activity', { timeout: 20000 }, async () => {
  const agent = await login(s.url, 'agent2@acme.test');
  const row = await agentOf('agent2@acme.test');
  const ws = await new RawClient(s.wsUrl, agent.access_token).open();
  try {
    const join = await ws.join('realtime:activity2');
    assert.equal(join.payload.status, 'ok');
    const r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: agent.access_token, body: { status: 'away', reason: 'lunch' } });
    assert.equal(r.status, 200);
    await sleep(IDLE_MS + 500);
    ws.send('realtime:activity2', 'broadcast', { type: 'broadcast', event: 'activity', payload: {} }, '1');
    await sleep(1000);
    const x = await statusOf(row.id);
    assert.equal(x.status, 'away');
    assert.equal(x.reason, 'lunch');
  } finally {
    ws.close();
  }
});
