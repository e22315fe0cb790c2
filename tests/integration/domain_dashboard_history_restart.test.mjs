// The dashboard history outlives a restart (issue 13): the server writes the series it records
// to the store (table dashboard_points; at most every 10 s and when it stops) and loads the
// last 24 h at start. Against the real binary on SQLite:
// - points recorded before a graceful restart are answered right after it, the same values at
//   the same times, and the series goes on after them;
// - points older than 24 h are pruned from the store and never loaded; a 23-hour-old point is;
// - a deleted client's stored points go with it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';
import { sql } from './lib/rt_helpers.mjs';

let s;
let root;
let admin;
let acme;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (path, t) => api(s.url, 'GET', path, { token: t });
const HOUR = 3600e3;

before(async () => {
  s = await startServer({ demo: true, args: ['--metrics-interval', '250ms'] });
  root = (await login(s.url, 'root@demo.test')).access_token;
  admin = (await login(s.url, 'admin@acme.test')).access_token;
  acme = (await get('/api/v1/clients', root)).json.data.find((x) => x.slug === 'acme').id;
});
after(async () => {
  await s?.cleanup();
});

async function historyUntil(path, t, pred, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await get(path, t);
    assert.equal(r.status, 200, r.text);
    if (pred(r.json)) return r.json;
    assert.ok(Date.now() < end, `history did not satisfy the condition in ${ms} ms: ${r.text.slice(0, 300)}`);
    await sleep(100);
  }
}
const stored = (key) => Number(sql(s, `SELECT count(*) AS n FROM dashboard_points WHERE client_key = '${key}'`)[0].n);

test('the points recorded before a restart are answered after it', { timeout: 90000 }, async () => {
  const path = '/api/v1/dashboard/history?max_points=86401';
  // A change in the series worth finding again: an agent set busy.
  const ag = (await get('/api/v1/agents?limit=1', admin)).json.data[0];
  const r = await api(s.url, 'PATCH', `/api/v1/agents/${ag.id}`, { token: admin, body: { status: 'busy', reason: 'before restart' } });
  assert.equal(r.status, 200, r.text);
  const before1 = await historyUntil(path, admin, (j) => j.points.length >= 8 && j.points.at(-1).busy >= 1);
  await s.restart();
  admin = (await login(s.url, 'admin@acme.test')).access_token;
  root = (await login(s.url, 'root@demo.test')).access_token;
  // At once after the start: every point answered before the stop is still there, same values.
  const after1 = (await get(path, admin)).json;
  const byAt = new Map(after1.points.map((p) => [p.at, p]));
  for (const p of before1.points) assert.deepEqual(byAt.get(p.at), p, `point ${p.at} survived the restart`);
  assert.ok(after1.points.length >= before1.points.length);
  // The series goes on after them, in order.
  const later = await historyUntil(path, admin, (j) => Date.parse(j.points.at(-1).at) > Date.parse(before1.points.at(-1).at) + 1000);
  for (let i = 1; i < later.points.length; i++) assert.ok(Date.parse(later.points[i].at) > Date.parse(later.points[i - 1].at), 'in time order');
  assert.equal(later.points.at(-1).busy, (await get('/api/v1/dashboard', admin)).json.agents_by_status.busy);
  // The all-tenants view too.
  const all = (await get(path, root)).json;
  assert.ok(all.points.length >= before1.points.length, 'the all-tenants series was kept');
  assert.ok(stored(acme) >= before1.points.length);
});

test('bounded: points older than 24 h are pruned and never loaded; a 23-hour-old one is', { timeout: 90000 }, async () => {
  const now = Date.now();
  const old = now - 25 * HOUR;
  const recent = now - 23 * HOUR;
  sql(s, `INSERT INTO dashboard_points VALUES ('${acme}', ${old}, 9, 9, 9, 9, 9, 9, 9, 9), ('${acme}', ${recent}, 7, 1, 1, 1, 2, 0, 3, 4)`);
  await s.restart();
  admin = (await login(s.url, 'admin@acme.test')).access_token;
  const from = new Date(now - 26 * HOUR).toISOString();
  const h = (await get(`/api/v1/dashboard/history?max_points=86401&from=${encodeURIComponent(from)}`, admin)).json;
  const first = h.points[0];
  assert.equal(first.at, new Date(recent).toISOString(), 'the oldest point answered is the 23-hour-old one');
  assert.deepEqual([first.online, first.away, first.busy, first.offline, first.total, first.active_messages, first.critical_messages, first.connections, first.events_per_minute], [7, 1, 1, 1, 10, 2, 0, 3, 4]);
  // The first write after the start prunes the store.
  const end = Date.now() + 15000;
  while (Number(sql(s, `SELECT count(*) AS n FROM dashboard_points WHERE at_ms = ${old}`)[0].n) !== 0) {
    assert.ok(Date.now() < end, 'the 25-hour-old point was pruned within 15 s');
    await sleep(200);
  }
  assert.equal(Number(sql(s, `SELECT count(*) AS n FROM dashboard_points WHERE at_ms = ${recent}`)[0].n), 1);
  assert.equal(Number(sql(s, `SELECT count(*) AS n FROM dashboard_points WHERE at_ms < ${now - 24 * HOUR - 10000}`)[0].n), 0);
});

test('a deleted client\'s stored points go with it', { timeout: 60000 }, async () => {
  const c = await api(s.url, 'POST', '/api/v1/clients', { token: root, body: { name: 'Short Lived', slug: 'short-lived' } });
  assert.equal(c.status, 201, c.text);
  const id = (c.json.data || c.json).id;
  const end = Date.now() + 20000;
  while (stored(id) === 0) {
    assert.ok(Date.now() < end, 'the new client\'s points were written within 20 s');
    await sleep(250);
  }
  const d = await api(s.url, 'DELETE', `/api/v1/clients/${id}?confirm=short-lived`, { token: root });
  assert.equal(d.status, 200, d.text);
  const end2 = Date.now() + 20000;
  while (stored(id) !== 0) {
    assert.ok(Date.now() < end2, 'its stored points were deleted within 20 s');
    await sleep(250);
  }
  assert.ok(stored(acme) > 0, 'other tenants keep theirs');
});
