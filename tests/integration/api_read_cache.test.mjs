// The read cache of encoded list/get answers (src/api/cache.c) against the real binary with the
// demo data and two workers: a cached answer is never older than a write its reader could
// know of (PATCH then GET, in a loop; bulk-status, CSV import, delete through other routes),
// tenants and roles get their own answers for the same query string, authentication still
// runs on every hit, and bad parameters still get 4xx. /metrics shows that answers did come
// from the cache, so these are tests of the cache and not of the slow path alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

let s;
const tok = {};
let agentIds = []; // Acme's agents

before(async () => {
  s = await startServer({ demo: true });
  for (const e of ['root@demo.test', 'admin@acme.test', 'viewer@acme.test', 'agent1@acme.test',
    'admin@globex.test']) {
    tok[e] = (await login(s.url, e)).access_token;
  }
  const r = await api(s.url, 'GET', '/api/v1/agents', { token: tok['admin@acme.test'] });
  assert.equal(r.status, 200);
  agentIds = r.json.data.map((a) => a.id);
  assert.equal(agentIds.length, 5);
});
after(async () => {
  await s?.cleanup();
});

const admin = () => tok['admin@acme.test'];
const get = (path, token = admin(), headers = {}) => api(s.url, 'GET', path, { token, headers });

async function cacheHits() {
  const r = await api(s.url, 'GET', '/metrics');
  assert.equal(r.status, 200);
  const m = r.text.match(/^switchboard_http_read_cache_hits_total (\d+)$/m);
  assert.ok(m, 'the read cache counts its hits');
  return Number(m[1]);
}

test('a repeated read is answered from the cache with the same bytes', async () => {
  const h0 = await cacheHits();
  const a = await get('/api/v1/agents?sort=display_name');
  const b = await get('/api/v1/agents?sort=display_name');
  const c = await get('/api/v1/agents?sort=display_name');
  assert.equal(a.status, 200);
  assert.equal(b.text, a.text);
  assert.equal(c.text, a.text);
  assert.equal(c.headers.get('cache-control'), 'no-store');
  assert.ok(await cacheHits() >= h0 + 1, 'at least one of the repeats came from the cache');
});

test('PATCH then GET at once sees the write, every time (list, row, filtered list)', async () => {
  const statuses = ['online', 'busy', 'away', 'offline'];
  const h0 = await cacheHits();
  for (let i = 0; i < 120; i++) {
    const id = agentIds[i % agentIds.length];
    const status = statuses[i % statuses.length];
    // Warm the cache so that the GETs after the write have something stale to be wrong with.
    await get('/api/v1/agents');
    await get('/api/v1/agents');
    await get(`/api/v1/agents/${id}`);
    await get(`/api/v1/agents/${id}`);
    const p = await api(s.url, 'PATCH', `/api/v1/agents/${id}`, { token: admin(), body: { status, reason: `r${i}` } });
    assert.equal(p.status, 200, p.text);
    const list = await get('/api/v1/agents');
    assert.equal(list.status, 200);
    const row = list.json.data.find((a) => a.id === id);
    assert.equal(row.status, status, `iteration ${i}: list after PATCH`);
    assert.equal(row.reason, `r${i}`);
    assert.equal(row.version, p.json.version);
    assert.equal(list.json.total, 5, 'total stays exact');
    const one = await get(`/api/v1/agents/${id}`);
    assert.equal(one.json.status, status, `iteration ${i}: row after PATCH`);
    assert.equal(one.json.version, p.json.version);
    const filtered = await get(`/api/v1/agents?status=${status}`);
    assert.ok(filtered.json.data.some((a) => a.id === id), `iteration ${i}: filter sees the row`);
    assert.equal(filtered.json.total, filtered.json.data.length);
  }
  assert.ok(await cacheHits() >= h0 + 120, 'the warm-up reads were cache hits');
});

async function metric(name) {
  const r = await api(s.url, 'GET', '/metrics');
  const m = r.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, name);
  return Number(m[1]);
}

test('a burst of the same read after a write: one read serves many, every answer current', async () => {
  const id = agentIds[0];
  const statuses = ['online', 'busy', 'away'];
  const shared0 = await metric('switchboard_http_read_cache_shared_total');
  let shared = shared0;
  for (let round = 0; round < 20 && (round < 5 || shared === shared0); round++) {
    const status = statuses[round % statuses.length];
    const p = await api(s.url, 'PATCH', `/api/v1/agents/${id}`, { token: admin(), body: { status, reason: `burst ${round}` } });
    assert.equal(p.status, 200, p.text);
    // Another write races with the burst: answers may show it or not, never anything older
    // than the acknowledged one above.
    const racing = api(s.url, 'PATCH', `/api/v1/agents/${agentIds[1]}`, { token: admin(), body: { status, reason: `race ${round}` } });
    const answers = await Promise.all(Array.from({ length: 30 }, () => get('/api/v1/agents?sort=display_name')));
    assert.equal((await racing).status, 200);
    for (const a of answers) {
      assert.equal(a.status, 200);
      const row = a.json.data.find((x) => x.id === id);
      assert.ok(row.version >= p.json.version, `round ${round}: an answer older than an acknowledged write`);
      assert.equal(row.status, status);
      assert.equal(a.json.total, a.json.data.length);
    }
    shared = await metric('switchboard_http_read_cache_shared_total');
  }
  assert.ok(shared > shared0, 'some reads of a burst waited for another one instead of reading');
});

test('a write through another route invalidates: bulk-status', async () => {
  await get('/api/v1/agents');
  const before = await get('/api/v1/agents');
  const seq0 = before.json.seq;
  const r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: admin(), body: { ids: agentIds, status: 'busy', reason: 'bulk' } });
  assert.equal(r.status, 200, r.text);
  const after = await get('/api/v1/agents');
  assert.ok(after.json.data.every((a) => a.status === 'busy' && a.reason === 'bulk'), after.text);
  assert.ok(after.json.seq > seq0, 'the list carries the new change-log position');
});

test('a write through another route invalidates: CSV import of users and agents', async () => {
  await get('/api/v1/users?sort=email');
  const u0 = await get('/api/v1/users?sort=email');
  await get('/api/v1/agents');
  const a0 = await get('/api/v1/agents');
  const r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin(), body: { csv: 'email,name,role\ncache1@acme.test,Cache One,agent\n' } });
  assert.equal(r.status, 201, r.text);
  const u1 = await get('/api/v1/users?sort=email');
  assert.equal(u1.json.total, u0.json.total + 1);
  assert.ok(u1.json.data.some((u) => u.email === 'cache1@acme.test'));
  const a1 = await get('/api/v1/agents');
  assert.equal(a1.json.total, a0.json.total + 1, 'the imported agent is listed');
  assert.equal(a1.json.data.length, a1.json.total);
});

test('a write through another route invalidates: delete (list and the row itself)', async () => {
  const m = await api(s.url, 'POST', '/api/v1/messages', { token: admin(), body: { title: 'cached', body: 'to be deleted', priority: 'low' } });
  assert.equal(m.status, 201, m.text);
  const id = m.json.id;
  await get('/api/v1/messages');
  const l0 = await get('/api/v1/messages');
  assert.ok(l0.json.data.some((x) => x.id === id));
  await get(`/api/v1/messages/${id}`);
  assert.equal((await get(`/api/v1/messages/${id}`)).status, 200);
  const d = await api(s.url, 'DELETE', `/api/v1/messages/${id}`, { token: admin() });
  assert.equal(d.status, 200, d.text);
  const l1 = await get('/api/v1/messages');
  assert.ok(!l1.json.data.some((x) => x.id === id), 'the deleted message is gone from the list');
  assert.equal(l1.json.total, l0.json.total - 1);
  assert.equal((await get(`/api/v1/messages/${id}`)).status, 404);
});

test('two tenants never see each other\'s answers to the same query string', async () => {
  const tenants = { 'admin@acme.test': null, 'admin@globex.test': null };
  for (const e of Object.keys(tenants)) {
    tenants[e] = (await get('/api/v1/me', tok[e])).json;
  }
  const clientOf = (e) => tenants[e].client_id ?? tenants[e].user?.client_id;
  assert.notEqual(clientOf('admin@acme.test'), clientOf('admin@globex.test'));
  const h0 = await cacheHits();
  for (let i = 0; i < 6; i++) {
    for (const e of ['admin@acme.test', 'admin@acme.test', 'admin@globex.test', 'admin@globex.test']) {
      for (const path of ['/api/v1/agents', '/api/v1/users', '/api/v1/clients', '/api/v1/messages']) {
        const r = await get(path, tok[e]);
        assert.equal(r.status, 200, `${e} ${path}`);
        for (const row of r.json.data) {
          const tenant = path === '/api/v1/clients' ? row.id : row.client_id;
          if (path === '/api/v1/messages' && tenant === null) continue; // global messages
          assert.equal(tenant, clientOf(e), `${e} ${path} got a row of another tenant`);
        }
      }
    }
  }
  assert.ok(await cacheHits() >= h0 + 16, 'the repeats came from the cache');
  // A row of the other tenant stays 404 even right after the owner's read was cached.
  const globexAgents = (await get('/api/v1/agents', tok['admin@globex.test'])).json.data;
  await get(`/api/v1/agents/${globexAgents[0].id}`, tok['admin@globex.test']);
  assert.equal((await get(`/api/v1/agents/${globexAgents[0].id}`, tok['admin@globex.test'])).status, 200);
  assert.equal((await get(`/api/v1/agents/${globexAgents[0].id}`, tok['admin@acme.test'])).status, 404);
});

test('a viewer and an admin of one tenant get their own views', async () => {
  const future = new Date(Date.now() + 3600_000).toISOString();
  const m = await api(s.url, 'POST', '/api/v1/messages', { token: admin(), body: { title: 'later', body: 'scheduled', priority: 'normal', starts_at: future } });
  assert.equal(m.status, 201, m.text);
  assert.equal(m.json.state, 'scheduled');
  for (let i = 0; i < 4; i++) {
    const a = await get('/api/v1/messages');
    const v = await get('/api/v1/messages', tok['viewer@acme.test']);
    assert.ok(a.json.data.some((x) => x.id === m.json.id), 'the admin sees the scheduled message');
    assert.ok(!v.json.data.some((x) => x.id === m.json.id), 'the viewer sees only active messages');
    assert.ok(v.json.data.every((x) => x.state === 'active'));
    assert.equal((await get(`/api/v1/messages/${m.json.id}`)).status, 200);
    assert.equal((await get(`/api/v1/messages/${m.json.id}`, tok['viewer@acme.test'])).status, 404);
  }
  // Users: an admin reads them, a viewer may not, whatever an admin's read left in the cache.
  await get('/api/v1/users');
  assert.equal((await get('/api/v1/users')).status, 200);
  assert.equal((await get('/api/v1/users', tok['viewer@acme.test'])).status, 403);
});

test('a revoked token gets 401 even when the answer is cached', async () => {
  const t = (await login(s.url, 'admin@acme.test')).access_token;
  assert.equal((await get('/api/v1/agents', t)).status, 200);
  const h0 = await cacheHits();
  assert.equal((await get('/api/v1/agents', t)).status, 200);
  assert.ok(await cacheHits() > h0, 'the answer is cached');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/logout', { token: t })).status, 200);
  let r;
  for (let i = 0; i < 50; i++) { // revocation is immediate on this node; bounded anyway
    r = await get('/api/v1/agents', t);
    if (r.status === 401) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(r.status, 401);
  assert.equal((await get('/api/v1/agents', 'not-a-token')).status, 401);
  assert.equal((await get('/api/v1/agents', null)).status, 401);
  assert.equal((await get('/api/v1/agents')).status, 200, 'another session still reads');
});

test('bad query parameters still get 4xx, before and after a good read was cached', async () => {
  await get('/api/v1/agents');
  await get('/api/v1/agents');
  for (let i = 0; i < 2; i++) {
    for (const qs of ['limit=0', 'sort=no_such_column', 'cursor=garbage', 'count_by=display_name',
      'format=xml', 'status=online&limit=abc']) {
      const r = await get(`/api/v1/agents?${qs}`);
      assert.equal(r.status, 422, `${qs}: ${r.text}`);
      assert.equal(r.json.error.code, 'validation_failed');
    }
    let r = await get('/api/v1/agents?sort=display_name&limit=2');
    assert.equal(r.status, 200);
    r = await get(`/api/v1/agents?sort=display_name&limit=2&cursor=${r.json.next_cursor}x`);
    assert.equal(r.status, 422, 'a damaged cursor');
    r = await get('/api/v1/agents/00000000-0000-4000-8000-000000000000');
    assert.equal(r.status, 404, r.text);
  }
});

test('a write by another process into the SQLite file shows within the cache\'s age bound', async () => {
  const id = agentIds[2];
  await get('/api/v1/agents');
  const before = await get('/api/v1/agents');
  assert.notEqual(before.json.data.find((a) => a.id === id).reason, 'written with sqlite3');
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', s.dbPath,
    `UPDATE agent_status SET reason = 'written with sqlite3', version = version + 1 WHERE id = '${id}'`]);
  // Not a write of this process: no generation moves; answers are kept for at most 1 s
  // (SB_LIMIT_READ_CACHE_AGE_MS). Bounded wait: 3 s.
  const end = Date.now() + 3000;
  let seen = false;
  while (!seen && Date.now() < end) {
    const r = await get('/api/v1/agents');
    seen = r.json.data.find((a) => a.id === id).reason === 'written with sqlite3';
    if (!seen) await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(seen, 'the direct SQL write shows in the list within 3 s');
});

test('CSV and HEAD are not answered with a cached JSON body', async () => {
  await get('/api/v1/agents');
  await get('/api/v1/agents');
  const csv = await get('/api/v1/agents', admin(), { accept: 'text/csv' });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /text\/csv/);
  assert.ok(!csv.text.startsWith('{'));
  const head = await api(s.url, 'HEAD', '/api/v1/agents', { token: admin() });
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
});
