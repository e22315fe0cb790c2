// Cluster-wide, durable revocation (DESIGN §1 scale-out): two nodes on one PostgreSQL
// database. A logout, a "log out everywhere", a password change or a refresh-token reuse on
// one node is refused by the other within a second, on HTTP and on its open WebSockets, and
// stays refused after that node restarts. The revocation is written to the database in the
// revoking transaction, travels in the change log (NOTIFY wakes the nodes) and is reloaded at
// start; no request pays a database round trip for it.
//
// Needs SB_TEST_PG_URL: cmake/pg.cmake runs this file under scripts/with-postgres.sh, which
// starts a throwaway PostgreSQL. Without it the test fails (it is never silently skipped).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
let nodeA;
let nodeB;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll pred every 20 ms; return the elapsed ms when it holds, throw after timeoutMs.
async function within(timeoutMs, what, pred) {
  const t0 = Date.now();
  for (;;) {
    if (await pred()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const me = async (node, t) => (await api(node.url, 'GET', '/api/v1/me', { token: t })).status;

// A raw Phoenix socket on node with token, joined to one channel. Resolves once joined;
// .closed resolves (with the time) when the server closes the socket or kicks the channel.
function joinChannel(node, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${node.wsUrl}/websocket?apikey=${encodeURIComponent(token)}&vsn=1.0.0`);
    const s = { ws, closedAt: 0, events: [] };
    let done;
    s.closed = new Promise((r) => { done = r; });
    const mark = (why) => { if (!s.closedAt) { s.closedAt = Date.now(); done(why); } };
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('join timed out')); }, 5000);
    ws.on('open', () => {
      ws.send(JSON.stringify({ topic: 'realtime:revoke-test', event: 'phx_join', ref: '1', join_ref: '1',
        payload: { config: { broadcast: { self: false } }, access_token: token } }));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      s.events.push(m);
      if (m.event === 'phx_reply' && m.ref === '1') {
        clearTimeout(timer);
        if (m.payload.status === 'ok') resolve(s);
        else reject(new Error(`join refused: ${JSON.stringify(m.payload)}`));
      }
      if (m.event === 'phx_close' || (m.event === 'system' && m.payload.status === 'error')) mark(m.event);
    });
    ws.on('close', () => mark('close'));
    ws.on('error', () => {});
  });
}

before(async () => {
  assert.ok(PG, 'SB_TEST_PG_URL must be set (cmake/pg.cmake runs this under scripts/with-postgres.sh)');
  nodeA = await startServer({ db: PG, demo: true, args: ['--login-attempts', '1000'] });
  nodeB = await startServer({ db: PG, demo: false, args: ['--login-attempts', '1000'] });
});

after(async () => {
  await nodeB?.cleanup();
  await nodeA?.cleanup();
});

test('logout on A: the token gets 401 on B and its channel on B closes within 1 s', async () => {
  const s = await login(nodeA.url, 'agent1@acme.test');
  const other = await login(nodeB.url, 'agent1@acme.test');
  assert.equal(await me(nodeB, s.access_token), 200);
  const sock = await joinChannel(nodeB, s.access_token);
  const t0 = Date.now();
  assert.equal((await api(nodeA.url, 'POST', '/api/v1/auth/logout', { token: s.access_token })).status, 200);
  await within(1000, 'token refused on B', async () => (await me(nodeB, s.access_token)) === 401);
  await within(1000 - Math.min(999, Date.now() - t0), 'channel closed on B', async () => sock.closedAt > 0);
  assert.ok(sock.closedAt - t0 <= 1000, `channel on B closed after ${sock.closedAt - t0} ms`);
  sock.ws.terminate();
  assert.equal(await me(nodeB, other.access_token), 200, 'the other session of the user is untouched');
  assert.equal(await me(nodeA, other.access_token), 200);
});

test('log out everywhere, password change and refresh reuse reach the other node', async () => {
  // Log out everywhere on B; both nodes refuse every session of the user.
  const e1 = await login(nodeA.url, 'agent2@acme.test');
  const e2 = await login(nodeB.url, 'agent2@acme.test');
  assert.equal((await api(nodeB.url, 'POST', '/api/v1/auth/logout', { token: e2.access_token, body: { everywhere: true } })).status, 200);
  await within(1000, 'logout everywhere on A', async () => (await me(nodeA, e1.access_token)) === 401);
  // A fresh login on A right after is not caught by it.
  await sleep(1100);
  assert.equal(await me(nodeA, (await login(nodeA.url, 'agent2@acme.test')).access_token), 200);

  // Password change on A (by the tenant admin): the victim's token dies on B.
  const victim = await login(nodeB.url, 'agent3@acme.test');
  const admin = await login(nodeA.url, 'admin@acme.test');
  const pw = await api(nodeA.url, 'PATCH', `/api/v1/users/${victim.user.id}`, { token: admin.access_token, body: { password: 'another-password-42' } });
  assert.equal(pw.status, 200, pw.text);
  await within(1000, 'password change on B', async () => (await me(nodeB, victim.access_token)) === 401);

  // Refresh-token reuse detected on A kills the session on B.
  const stolen = await login(nodeB.url, 'agent4@acme.test');
  const r1 = await api(nodeB.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: stolen.refresh_token } });
  assert.equal(r1.status, 200);
  await sleep(6000); // past any grace for concurrent refreshes of one token
  const r2 = await api(nodeA.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: stolen.refresh_token } });
  assert.equal(r2.status, 401);
  await within(1000, 'refresh reuse on B', async () => (await me(nodeB, r1.json.access_token)) === 401);

  // All of it survives a restart of B.
  await nodeB.restart();
  for (const t of [e1.access_token, e2.access_token, victim.access_token, stolen.access_token, r1.json.access_token]) {
    assert.equal(await me(nodeB, t), 401);
  }
  assert.equal(await me(nodeB, admin.access_token), 200);
});
