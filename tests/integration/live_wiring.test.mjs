// The wiring between realtime and the domain services: presence-driven agent status (grace
// period), live connection counts on the dashboard, and dashboard metrics pushed on
// realtime:dashboard per tenant, only when they changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { api, login } from './lib/server.mjs';
import { RawClient, startRtServer, tokenFor, until, sleep, clientId } from './lib/rt_helpers.mjs';

let s;
let admin; // Acme admin tokens
let globexAdmin;

before(async () => {
  s = await startRtServer({ args: ['--presence-grace', '1s', '--metrics-interval', '300ms', '--login-attempts', '100'] });
  admin = (await login(s.url, 'admin@acme.test')).access_token;
  globexAdmin = (await login(s.url, 'admin@globex.test')).access_token;
});

after(async () => { await s?.cleanup(); });

async function agentRow(email) {
  const r = await api(s.url, 'GET', '/api/v1/agents?limit=100', { token: admin });
  const me = (await api(s.url, 'GET', '/api/v1/users?email=' + encodeURIComponent(email), { token: admin })).json.data[0];
  return r.json.data.find((a) => a.user_id === me.id);
}

test('an agent whose last connection closes goes offline after the grace period', { timeout: 20000 }, async () => {
  const agent = await login(s.url, 'agent1@acme.test');
  const row = await agentRow('agent1@acme.test');
  let r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: agent.access_token, body: { status: 'online' } });
  assert.equal(r.status, 200);
  const ws = await new RawClient(s.wsUrl, agent.access_token).open();
  await sleep(200);
  ws.close();
  // Still online right after the disconnect (grace period of 1 s)...
  r = await api(s.url, 'GET', `/api/v1/agents/${row.id}`, { token: admin });
  assert.equal(r.json.status, 'online');
  // ...offline once it ran out, changed by "system".
  const off = await until(async () => {
    const x = await api(s.url, 'GET', `/api/v1/agents/${row.id}`, { token: admin });
    return x.json.status === 'offline' ? x.json : null;
  }, { timeoutMs: 5000, stepMs: 100, what: 'agent offline' });
  assert.equal(off.status, 'offline');
  const hist = await api(s.url, 'GET', `/api/v1/agents/${row.id}/history`, { token: admin });
  assert.equal(hist.json.data.at(-1).changed_by, 'system');
});

test('a reconnect inside the grace period leaves the status alone', { timeout: 20000 }, async () => {
  const agent = await login(s.url, 'agent2@acme.test');
  const row = await agentRow('agent2@acme.test');
  let r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: agent.access_token, body: { status: 'busy' } });
  assert.equal(r.status, 200);
  const ws1 = await new RawClient(s.wsUrl, agent.access_token).open();
  await sleep(100);
  ws1.close();
  await sleep(300);
  const ws2 = await new RawClient(s.wsUrl, agent.access_token).open();
  await sleep(2000); // well past the grace period
  r = await api(s.url, 'GET', `/api/v1/agents/${row.id}`, { token: admin });
  assert.equal(r.json.status, 'busy');
  // The last disconnect does count: offline after the grace period (and settled before the
  // next tests watch the dashboard).
  ws2.close();
  await until(async () => (await api(s.url, 'GET', `/api/v1/agents/${row.id}`, { token: admin })).json.status === 'offline',
    { timeoutMs: 5000, stepMs: 100, what: 'agent2 offline after its last disconnect' });
});

test('the dashboard counts live connections per tenant', { timeout: 20000 }, async () => {
  // Earlier tests' sockets may still be closing: wait for a stable reading first.
  const conns = async () => (await api(s.url, 'GET', '/api/v1/dashboard', { token: admin })).json.connections;
  let before = await conns();
  for (let i = 0; i < 20; i++) {
    await sleep(200);
    const again = await conns();
    if (again === before) break;
    before = again;
  }
  const gBefore = (await api(s.url, 'GET', '/api/v1/dashboard', { token: globexAdmin })).json.connections;
  const a = await new RawClient(s.wsUrl, admin).open();
  const b = await new RawClient(s.wsUrl, admin).open();
  await until(async () => (await api(s.url, 'GET', '/api/v1/dashboard', { token: admin })).json.connections === before + 2,
    { timeoutMs: 3000, what: 'two more Acme connections' });
  assert.equal((await api(s.url, 'GET', '/api/v1/dashboard', { token: globexAdmin })).json.connections, gBefore);
  a.close();
  b.close();
  await until(async () => (await api(s.url, 'GET', '/api/v1/dashboard', { token: admin })).json.connections === before,
    { timeoutMs: 3000, what: 'connections back' });
});

test('metrics are pushed on realtime:dashboard per tenant, on change only', { timeout: 30000 }, async () => {
  const acme = await new RawClient(s.wsUrl, admin).open();
  const globex = await new RawClient(s.wsUrl, globexAdmin).open();
  assert.equal((await acme.join('realtime:dashboard')).payload.status, 'ok');
  assert.equal((await globex.join('realtime:dashboard')).payload.status, 'ok');
  const metrics = (c) => c.events('broadcast', 'realtime:dashboard').filter((m) => m.payload.event === 'metrics');
  // One more connection per tenant, opened after the joins, changes both tenants' figures
  // (live connections): a push each reaches the joined channels. Pushes go out on change
  // only, so a count can come back to the figure last pushed (the previous test's two Acme
  // sockets, closed between two ticks, gave Acme the same count as now): then a second
  // connection, opened after a tick has seen the first, surely differs.
  const bumps = [];
  const bump = async (token) => bumps.push(await new RawClient(s.wsUrl, token).open());
  await bump(admin);
  await bump(globexAdmin);
  try {
    const both = () => metrics(acme).length >= 1 && metrics(globex).length >= 1;
    try {
      await until(both, { timeoutMs: 3000, what: 'first pushes' });
    } catch {
      if (metrics(acme).length === 0) await bump(admin);
      if (metrics(globex).length === 0) await bump(globexAdmin);
      await until(both, { timeoutMs: 15000, what: 'first pushes' });
    }
  } catch (e) {
    // Say what did arrive and what the server logged, so a failure can be read afterwards.
    const dash = async (t) => (await api(s.url, 'GET', '/api/v1/dashboard', { token: t })).json;
    const warn = s.logs.join('').split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-20);
    throw new Error(`${e.message}: acme ${metrics(acme).length}, globex ${metrics(globex).length} pushes; ` +
      `acme frames ${JSON.stringify(acme.msgs.slice(-5))}; dashboards now ${JSON.stringify(await dash(admin))} ` +
      `${JSON.stringify(await dash(globexAdmin))}; server warnings ${warn.join(' | ')}`);
  }
  // Pushed only on change: every push differs from the one before it (ignoring its time),
  // however long we watch (background changes such as connection counts may cause pushes,
  // but never a repeat of the same figures).
  const same = (a, b) => {
    const strip = (x) => { const { at, ...rest } = x.payload.payload; return JSON.stringify(rest); };
    return strip(a) === strip(b);
  };
  await sleep(2000);
  const gBefore = metrics(globex).at(-1).payload.payload;
  // An Acme change: Acme gets a new snapshot with the new figure.
  const quietAcme = metrics(acme).length;
  const row = await agentRow('agent3@acme.test');
  const r = await api(s.url, 'PATCH', `/api/v1/agents/${row.id}`, { token: admin, body: { status: 'away' } });
  assert.equal(r.status, 200);
  const pushed = await until(() => metrics(acme).length > quietAcme && metrics(acme).at(-1), { timeoutMs: 5000, what: 'push after change' });
  assert.ok(pushed.payload.payload.agents_by_status.away >= 1);
  await sleep(1500);
  for (const list of [metrics(acme), metrics(globex)]) {
    for (let i = 1; i < list.length; i++) assert.ok(!same(list[i - 1], list[i]), 'a push repeats the previous figures');
  }
  // Globex's figures are untouched by the Acme change.
  const gAfter = metrics(globex).at(-1).payload.payload;
  assert.deepEqual(gAfter.agents_by_status, gBefore.agents_by_status);
  // And nothing of Globex ever reached Acme.
  const gid = clientId(s, 'globex');
  for (const m of acme.msgs) assert.ok(!JSON.stringify(m).includes(gid));
  acme.close();
  globex.close();
  for (const b of bumps) b.close();
});

test('a password change closes that user\'s realtime connection within a second', { timeout: 20000 }, async () => {
  const viewer = await login(s.url, 'viewer@acme.test');
  const ws = await new RawClient(s.wsUrl, viewer.access_token).open();
  assert.equal((await ws.join('realtime:room-pw')).payload.status, 'ok');
  const me = (await api(s.url, 'GET', '/api/v1/me', { token: viewer.access_token })).json.user;
  const t0 = Date.now();
  const r = await api(s.url, 'PATCH', `/api/v1/users/${me.id}`, { token: admin, body: { password: 'a-new-password-1' } });
  assert.equal(r.status, 200);
  await until(() => ws.closeCode !== null || ws.events('phx_close', 'realtime:room-pw').length > 0,
    { timeoutMs: 3000, what: 'channel or socket closed' });
  assert.ok(Date.now() - t0 < 2000, `closed after ${Date.now() - t0} ms`);
  // The old access token no longer works over HTTP either.
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: viewer.access_token })).status, 401);
  ws.close();
});

test('nobody can spoof dashboard metrics: client broadcasts on realtime:dashboard are refused', { timeout: 20000 }, async () => {
  // Agents cannot even join it (the metrics are for admins); an admin who joined may only read.
  const agent = await login(s.url, 'agent5@acme.test');
  const outsider = await new RawClient(s.wsUrl, agent.access_token).open();
  assert.equal((await outsider.join('realtime:dashboard')).payload.status, 'error');
  outsider.close();
  const spoofer = await new RawClient(s.wsUrl, (await login(s.url, 'admin@acme.test')).access_token).open();
  const watcher = await new RawClient(s.wsUrl, admin).open();
  assert.equal((await spoofer.join('realtime:dashboard', { broadcast: { self: true, ack: true } })).payload.status, 'ok');
  assert.equal((await watcher.join('realtime:dashboard')).payload.status, 'ok');
  const ref = spoofer.send('realtime:dashboard', 'broadcast',
    { type: 'broadcast', event: 'metrics', payload: { agents_by_status: { online: 999 } } }, spoofer.msgs[0]?.join_ref ?? null);
  const reply = await spoofer.reply(ref);
  assert.equal(reply.payload.status, 'error');
  await sleep(500);
  for (const c of [spoofer, watcher]) {
    for (const m of c.events('broadcast', 'realtime:dashboard')) {
      assert.notEqual(m.payload.payload?.agents_by_status?.online, 999, 'spoofed metrics delivered');
    }
  }
  spoofer.close();
  watcher.close();
});
