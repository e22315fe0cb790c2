// GET /api/v1/dashboard/history against the real binary: the server records the dashboard
// series per tenant at the metrics interval; the history returns it for a window, in order,
// matching what /dashboard says, thinned to max_points, with the /dashboard policy (admins
// their own tenant, agents and viewers 403) and 422 for a bad window.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

let s;
const tok = {};
let acme;
let globex;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (path, t) => api(s.url, 'GET', path, { token: t });

before(async () => {
  s = await startServer({ demo: true, args: ['--metrics-interval', '200ms'] });
  for (const e of ['root@demo.test', 'admin@acme.test', 'agent1@acme.test', 'viewer@acme.test']) {
    tok[e] = (await login(s.url, e)).access_token;
  }
  const c = await get('/api/v1/clients', tok['root@demo.test']);
  acme = c.json.data.find((x) => x.slug === 'acme').id;
  globex = c.json.data.find((x) => x.slug === 'globex').id;
});
after(async () => {
  await s?.cleanup();
});

async function historyUntil(path, t, pred, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await get(path, t);
    assert.equal(r.status, 200, r.text);
    if (pred(r.json)) return r.json;
    assert.ok(Date.now() < end, `history did not satisfy the condition in ${ms} ms: ${r.text.slice(0, 300)}`);
    await sleep(100);
  }
}

test('the series of a tenant, in order, following a status change', async () => {
  const admin = tok['admin@acme.test'];
  const h = await historyUntil('/api/v1/dashboard/history', admin, (j) => j.points.length >= 5);
  assert.equal(h.client_id, acme);
  assert.equal(h.interval_ms, 200);
  for (let i = 1; i < h.points.length; i++) assert.ok(Date.parse(h.points[i].at) > Date.parse(h.points[i - 1].at));
  const p = h.points.at(-1);
  assert.equal(p.total, 5);
  assert.equal(p.online + p.away + p.busy + p.offline, p.total);
  assert.equal(p.active_messages >= 1, true);
  const ag = await get('/api/v1/agents?limit=1', admin);
  const busyBefore = p.busy;
  const r = await api(s.url, 'PATCH', `/api/v1/agents/${ag.json.data[0].id}`, { token: admin, body: { status: 'busy' } });
  assert.equal(r.status, 200);
  const h2 = await historyUntil('/api/v1/dashboard/history', admin, (j) => j.points.at(-1).busy === busyBefore + 1);
  const d = await get('/api/v1/dashboard', admin);
  assert.equal(h2.points.at(-1).busy, d.json.agents_by_status.busy);
  assert.ok(h2.points.some((x) => x.busy === busyBefore), 'the earlier value is still in the series');
});

test('window and max_points', async () => {
  const root = tok['root@demo.test'];
  await historyUntil(`/api/v1/dashboard/history?client_id=${globex}`, root, (j) => j.points.length >= 10);
  const all = await get(`/api/v1/dashboard/history?client_id=${globex}`, root);
  const n = all.json.points.length;
  const thin = await get(`/api/v1/dashboard/history?client_id=${globex}&max_points=3`, root);
  assert.ok(thin.json.points.length <= 3 && thin.json.points.length >= 1);
  assert.ok(thin.json.interval_ms >= 200 * Math.floor(n / 3));
  const mid = all.json.points[Math.floor(n / 2)].at;
  const w = await get(`/api/v1/dashboard/history?client_id=${globex}&from=${mid}`, root);
  assert.ok(w.json.points.length >= 1 && w.json.points.length < n + 10);
  assert.ok(w.json.points.every((x) => x.at >= mid));
  const old = await get(`/api/v1/dashboard/history?client_id=${globex}&to=2020-01-01T00:00:00Z&from=2019-01-01T00:00:00Z`, root);
  assert.deepEqual(old.json.points, []);
  const everyone = await get('/api/v1/dashboard/history', root);
  assert.equal(everyone.json.client_id, null);
  assert.ok(everyone.json.points.at(-1).total >= 8, 'the all-tenants view counts every agent');
});

test('policy and bad input', async () => {
  assert.equal((await get('/api/v1/dashboard/history', tok['agent1@acme.test'])).status, 403);
  assert.equal((await get('/api/v1/dashboard/history', tok['viewer@acme.test'])).status, 403);
  assert.equal((await get(`/api/v1/dashboard/history?client_id=${globex}`, tok['admin@acme.test'])).status, 404);
  assert.equal((await get('/api/v1/dashboard/history')).status, 401);
  assert.equal((await get('/api/v1/dashboard/history?client_id=00000000-0000-4000-8000-000000000000', tok['root@demo.test'])).status, 404);
  let r = await get('/api/v1/dashboard/history?from=yesterday', tok['root@demo.test']);
  assert.equal(r.status, 422);
  assert.equal(r.json.error.details[0].field, 'from');
  r = await get('/api/v1/dashboard/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', tok['root@demo.test']);
  assert.equal(r.status, 422);
  r = await get('/api/v1/dashboard/history?max_points=0', tok['root@demo.test']);
  assert.equal(r.status, 422);
  assert.equal(r.json.error.details[0].field, 'max_points');
});
