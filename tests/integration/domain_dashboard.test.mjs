// GET /api/v1/dashboard against the real binary: the snapshot per role and tenant (Acme's
// admin never sees Globex figures), super_admin's all-tenants view and ?client_id=, the
// figures following status and message changes, and the significant flags.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

let s;
const tok = {};
let acme;
let globex;

before(async () => {
  s = await startServer({ demo: true });
  for (const e of ['root@demo.test', 'admin@acme.test', 'viewer@acme.test', 'agent1@acme.test', 'admin@globex.test']) {
    tok[e] = (await login(s.url, e)).access_token;
  }
  const c = await api(s.url, 'GET', '/api/v1/clients', { token: tok['root@demo.test'] });
  acme = c.json.data.find((x) => x.slug === 'acme').id;
  globex = c.json.data.find((x) => x.slug === 'globex').id;
});
after(async () => {
  await s?.cleanup();
});

const dash = (email, qs = '') => api(s.url, 'GET', `/api/v1/dashboard${qs}`, { token: tok[email] });

function shape(d) {
  for (const k of ['online', 'away', 'busy', 'offline', 'total']) assert.ok(Number.isInteger(d.agents_by_status[k]), k);
  for (const k of ['low', 'normal', 'high', 'critical']) assert.ok(Number.isInteger(d.active_messages_by_priority[k]), k);
  for (const k of ['active_messages', 'users', 'connections', 'events_per_minute']) assert.ok(Number.isInteger(d[k]), k);
  assert.equal(typeof d.significant.online_agents_drop, 'boolean');
  assert.equal(typeof d.significant.critical_message_active, 'boolean');
  assert.ok(!Number.isNaN(Date.parse(d.at)));
}

test('snapshot per role and tenant', async () => {
  const a = await dash('admin@acme.test');
  assert.equal(a.status, 200, a.text);
  shape(a.json);
  assert.equal(a.json.client_id, acme);
  assert.equal(a.json.agents_by_status.total, 5);
  assert.equal(a.json.users, 7, 'admin, viewer and five agents');
  assert.equal(a.json.clients, undefined, 'clients count only for the all-tenants view');
  // the global demo message and Acme's own
  assert.equal(a.json.active_messages, 2);

  const g = await dash('admin@globex.test');
  assert.equal(g.json.client_id, globex);
  assert.equal(g.json.agents_by_status.total, 3);
  assert.equal(g.json.users, 4);

  const r = await dash('root@demo.test');
  shape(r.json);
  assert.equal(r.json.client_id, null);
  assert.equal(r.json.clients, 2);
  assert.equal(r.json.agents_by_status.total, 8);
  assert.equal(r.json.users, 12);
  assert.equal(r.json.active_messages, 3);
  const rg = await dash('root@demo.test', `?client_id=${globex}`);
  assert.deepEqual({ ...rg.json, at: null, events_per_minute: 0 }, { ...g.json, at: null, events_per_minute: 0 });

  assert.equal((await dash('admin@acme.test', `?client_id=${globex}`)).status, 404, 'no peeking at Globex');
  assert.equal((await dash('admin@acme.test', `?client_id=${acme}`)).status, 200);
  assert.equal((await dash('root@demo.test', '?client_id=00000000-0000-4000-8000-000000000000')).status, 404);
  assert.equal((await dash('viewer@acme.test')).status, 403);
  assert.equal((await dash('agent1@acme.test')).status, 403);
  assert.equal((await api(s.url, 'GET', '/api/v1/dashboard')).status, 401);
});

test('figures follow changes in the tenant only; significant flags', async () => {
  // Let the jobs thread count what came before (logins update last_login_at) so the Globex
  // baseline is settled: two equal readings a tick apart.
  let g0 = (await dash('admin@globex.test')).json;
  for (let i = 0; i < 20; i++) {
    await new Promise((res) => setTimeout(res, 300));
    const again = (await dash('admin@globex.test')).json;
    if (again.events_per_minute === g0.events_per_minute) break;
    g0 = again;
  }
  const a0 = (await dash('admin@acme.test')).json;
  const agents = (await api(s.url, 'GET', '/api/v1/agents', { token: tok['admin@acme.test'] })).json.data;
  const ids = agents.slice(0, 5).map((a) => a.id);
  let r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids, status: 'online' } });
  assert.equal(r.status, 200);
  const a1 = (await dash('admin@acme.test')).json;
  assert.equal(a1.agents_by_status.online, a0.agents_by_status.online + 5);
  assert.equal(a1.significant.online_agents_drop, false);
  // two of five go away: a 40% drop within the minute
  r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids: ids.slice(0, 2), status: 'away' } });
  assert.equal(r.status, 200);
  const a2 = (await dash('admin@acme.test')).json;
  assert.equal(a2.agents_by_status.online, 3);
  assert.equal(a2.significant.online_agents_drop, true);
  // a critical message for Acme
  assert.equal(a2.significant.critical_message_active, false);
  r = await api(s.url, 'POST', '/api/v1/messages', { token: tok['admin@acme.test'], body: { title: 'Fire', body: 'drill', priority: 'critical' } });
  assert.equal(r.status, 201);
  const a3 = (await dash('admin@acme.test')).json;
  assert.equal(a3.active_messages_by_priority.critical, 1);
  assert.equal(a3.active_messages, a2.active_messages + 1);
  assert.equal(a3.significant.critical_message_active, true);
  // events per minute: counted from the change log by the jobs thread (bounded poll)
  let epm = 0;
  for (let i = 0; i < 40 && epm < 8; i++) {
    epm = (await dash('admin@acme.test')).json.events_per_minute;
    if (epm < 8) await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(epm >= 8, `5 + 2 status changes and a message: ${epm}`);
  // Globex saw none of it
  const g1 = (await dash('admin@globex.test')).json;
  assert.equal(g1.events_per_minute, g0.events_per_minute);
  assert.deepEqual(g1.agents_by_status, g0.agents_by_status);
  assert.deepEqual(g1.active_messages_by_priority, g0.active_messages_by_priority);
  assert.equal(g1.significant.critical_message_active, false);
  assert.equal(g1.significant.online_agents_drop, false);
});
