// Agent status over HTTP against the real binary with the demo data: who may change whose
// status (own, colleague, admin, viewer, another tenant), history rows, reason limits,
// If-Match conflicts, all-or-nothing bulk changes, the statistics endpoint over a short real
// timeline, and exactly one audit entry per write.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { seedAgents, seedName } from './lib/seed.mjs';
import { api, login, startServer } from './lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let s;
const tok = {};
const agents = {}; // email -> agent_status row

before(async () => {
  s = await startServer({ demo: true });
  for (const e of ['root@demo.test', 'admin@acme.test', 'viewer@acme.test', 'agent1@acme.test',
    'agent2@acme.test', 'admin@globex.test', 'agent1@globex.test']) {
    tok[e] = (await login(s.url, e)).access_token;
  }
  const all = await api(s.url, 'GET', '/api/v1/agents?limit=100', { token: tok['root@demo.test'] });
  assert.equal(all.status, 200);
  const users = await api(s.url, 'GET', '/api/v1/users?limit=100', { token: tok['root@demo.test'] });
  for (const a of all.json.data) {
    const u = users.json.data.find((x) => x.id === a.user_id);
    agents[u.email] = a;
  }
  assert.equal(Object.keys(agents).length, 8);
});
after(async () => {
  await s?.cleanup();
});

const root = () => tok['root@demo.test'];
const A = (email) => agents[email].id;

async function patch(email, agentEmail, body, headers) {
  return api(s.url, 'PATCH', `/api/v1/agents/${A(agentEmail)}`, { token: tok[email], body, headers });
}
async function auditCount(entityId) {
  const r = await api(s.url, 'GET', `/api/v1/audit?entity_id=${entityId}&limit=500`, { token: root() });
  assert.equal(r.status, 200);
  return r.json.data.length;
}
async function history(agentEmail, qs = '') {
  const r = await api(s.url, 'GET', `/api/v1/agents/${A(agentEmail)}/history${qs}`, { token: root() });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}
async function row(agentEmail) {
  const r = await api(s.url, 'GET', `/api/v1/agents/${A(agentEmail)}`, { token: root() });
  assert.equal(r.status, 200);
  return r.json;
}

describe('status changes and who may make them', () => {
  test('an agent sets its own status: row, history and one audit entry', async () => {
    const before = await auditCount(A('agent1@acme.test'));
    const h0 = await history('agent1@acme.test');
    const r = await patch('agent1@acme.test', 'agent1@acme.test', { status: 'online', reason: 'start of shift' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'online');
    assert.equal(r.json.reason, 'start of shift');
    assert.equal(r.json.updated_by, tokUser('agent1@acme.test'));
    assert.ok(Date.now() - Date.parse(r.json.status_since) < 5000);
    assert.equal(await auditCount(A('agent1@acme.test')), before + 1);
    const h1 = await history('agent1@acme.test');
    assert.equal(h1.length, h0.length + 1);
    const open = h1.filter((h) => h.ended_at === null);
    assert.equal(open.length, 1, 'exactly one open history row');
    assert.equal(open[0].status, 'online');
    assert.equal(open[0].changed_by, tokUser('agent1@acme.test'));
    const closed = h1.find((h) => h.status === 'offline');
    assert.ok(closed.ended_at, 'the previous row was closed');
    assert.equal(closed.ended_at, open[0].started_at);
  });

  test('same status, other reason: reason updated, no new history row', async () => {
    const h0 = await history('agent1@acme.test');
    const before = await auditCount(A('agent1@acme.test'));
    const r = await patch('agent1@acme.test', 'agent1@acme.test', { status: 'online', reason: 'back' });
    assert.equal(r.status, 200);
    assert.equal(r.json.reason, 'back');
    const h1 = await history('agent1@acme.test');
    assert.equal(h1.length, h0.length);
    assert.equal(h1.find((h) => !h.ended_at).reason, 'back');
    assert.equal(await auditCount(A('agent1@acme.test')), before + 1);
  });

  test('an agent cannot set a colleague (403) nor another tenant (404)', async () => {
    const before = await auditCount(A('agent2@acme.test'));
    let r = await patch('agent1@acme.test', 'agent2@acme.test', { status: 'busy' });
    assert.equal(r.status, 403);
    r = await patch('agent1@acme.test', 'agent1@globex.test', { status: 'busy' });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found');
    assert.equal(await auditCount(A('agent2@acme.test')), before);
    assert.equal((await row('agent2@acme.test')).status, 'offline');
  });

  test('viewer 403; admin sets own client (200) but not another (404); super_admin any', async () => {
    let r = await patch('viewer@acme.test', 'agent2@acme.test', { status: 'busy' });
    assert.equal(r.status, 403);
    r = await patch('viewer@acme.test', 'agent1@globex.test', { status: 'busy' });
    assert.equal(r.status, 404);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'away', reason: 'lunch' });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'away');
    r = await patch('admin@acme.test', 'agent1@globex.test', { status: 'busy' });
    assert.equal(r.status, 404);
    r = await patch('admin@globex.test', 'agent2@acme.test', { status: 'busy' });
    assert.equal(r.status, 404);
    r = await patch('root@demo.test', 'agent1@globex.test', { status: 'busy' });
    assert.equal(r.status, 200);
    r = await api(s.url, 'GET', `/api/v1/agents/${A('agent1@globex.test')}`, { token: tok['admin@acme.test'] });
    assert.equal(r.status, 404, 'another tenant\'s agent is invisible');
    r = await api(s.url, 'PATCH', '/api/v1/agents/00000000-0000-4000-8000-000000000000', { token: root(), body: { status: 'busy' } });
    assert.equal(r.status, 404);
  });

  test('validation: status enum, reason length and type, unknown fields (422 with details)', async () => {
    let r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'sleeping' });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.code, 'validation_failed');
    assert.deepEqual(r.json.error.details, [{ field: 'status', issue: 'invalid' }]);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'busy', reason: 'x'.repeat(201) });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.error.details, [{ field: 'reason', issue: 'too_long' }]);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'busy', reason: 'é'.repeat(200) });
    assert.equal(r.status, 200, '200 characters (not bytes) are fine');
    r = await patch('admin@acme.test', 'agent2@acme.test', { reason: 5 });
    assert.equal(r.status, 422);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'busy', colour: 'red' });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.details[0].field, 'colour');
    r = await patch('admin@acme.test', 'agent2@acme.test', {});
    assert.equal(r.status, 422);
  });

  test('If-Match / expected_version: a stale version is 409 with the current row', async () => {
    const cur = await row('agent2@acme.test');
    const before = await auditCount(cur.id);
    let r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'online' }, { 'if-match': String(cur.version - 1) });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'version_conflict');
    assert.equal(r.json.error.current.version, cur.version);
    assert.equal(r.json.error.current.id, cur.id);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'online', expected_version: cur.version - 1 });
    assert.equal(r.status, 409);
    assert.equal(await auditCount(cur.id), before);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'online' }, { 'if-match': `"${cur.version}"` });
    assert.equal(r.status, 200);
    assert.equal(r.json.version, cur.version + 1);
    assert.equal(await auditCount(cur.id), before + 1);
  });

  test('list filters and tenant scope', async () => {
    let r = await api(s.url, 'GET', '/api/v1/agents', { token: tok['viewer@acme.test'] });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 5);
    assert.ok(Number.isInteger(r.json.seq));
    r = await api(s.url, 'GET', '/api/v1/agents?status=online', { token: tok['admin@acme.test'] });
    assert.ok(r.json.data.length >= 1);
    assert.ok(r.json.data.every((a) => a.status === 'online'));
    const globexId = agents['agent1@globex.test'].client_id;
    r = await api(s.url, 'GET', `/api/v1/agents?client_id=${globexId}`, { token: tok['admin@acme.test'] });
    assert.equal(r.json.data.length, 0);
    r = await api(s.url, 'GET', `/api/v1/agents?client_id=${globexId}`, { token: root() });
    assert.equal(r.json.data.length, 3);
  });
});

describe('bulk status', () => {
  test('one foreign id fails the whole request and changes nothing', async () => {
    const ids = [A('agent3@acme.test'), A('agent4@acme.test'), A('agent1@globex.test')];
    const rows0 = await Promise.all(['agent3@acme.test', 'agent4@acme.test'].map(row));
    const audits0 = await Promise.all(ids.map(auditCount));
    let r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids, status: 'busy', reason: 'x' } });
    assert.equal(r.status, 404, r.text);
    assert.deepEqual(r.json.error.details, [{ field: 'ids[2]', issue: 'not_found' }]);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids: [ids[0], '00000000-0000-4000-8000-000000000000'], status: 'busy' } });
    assert.equal(r.status, 404);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['agent1@acme.test'], body: { ids: [A('agent1@acme.test'), ids[0]], status: 'busy' } });
    assert.equal(r.status, 403, 'an agent may only include itself');
    const rows1 = await Promise.all(['agent3@acme.test', 'agent4@acme.test'].map(row));
    assert.deepEqual(rows1, rows0, 'rows unchanged (same version, status, reason)');
    assert.deepEqual(await Promise.all(ids.map(auditCount)), audits0);
  });

  test('input validation: duplicates, empty, too many, bad status', async () => {
    const t = tok['admin@acme.test'];
    const a = A('agent3@acme.test');
    let r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: t, body: { ids: [a, a], status: 'busy' } });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.error.details, [{ field: 'ids[1]', issue: 'duplicate' }]);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: t, body: { ids: [], status: 'busy' } });
    assert.equal(r.status, 422);
    const many = Array.from({ length: 501 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: t, body: { ids: many, status: 'busy' } });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.details[0].issue, 'too_many');
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: t, body: { ids: [a], status: 'nope' } });
    assert.equal(r.status, 422);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: t, body: { ids: [a] } });
    assert.equal(r.status, 422);
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['viewer@acme.test'], body: { ids: [a], status: 'busy' } });
    assert.equal(r.status, 403);
  });

  test('success: every agent gets its row, a history row and one audit entry', async () => {
    const emails = ['agent3@acme.test', 'agent4@acme.test', 'agent5@acme.test'];
    const ids = emails.map(A);
    const audits0 = await Promise.all(ids.map(auditCount));
    const hist0 = await Promise.all(emails.map((e) => history(e)));
    const r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids, status: 'busy', reason: 'campaign' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 3);
    assert.deepEqual(r.json.data.map((x) => x.id), ids);
    assert.ok(r.json.data.every((x) => x.status === 'busy' && x.reason === 'campaign'));
    assert.deepEqual(await Promise.all(ids.map(auditCount)), audits0.map((n) => n + 1));
    const hist1 = await Promise.all(emails.map((e) => history(e)));
    hist1.forEach((h, i) => {
      assert.equal(h.length, hist0[i].length + 1);
      assert.equal(h.filter((x) => !x.ended_at).length, 1);
    });
  });
});

describe('history and statistics', () => {
  test('history window: rows overlapping [from, to]', async () => {
    const all = await history('agent1@acme.test');
    assert.ok(all.length >= 2);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].started_at <= all[i].started_at, 'oldest first');
    const future = new Date(Date.now() + 3600e3).toISOString();
    const later = new Date(Date.now() + 7200e3).toISOString();
    const onlyOpen = await history('agent1@acme.test', `?from=${future}&to=${later}`);
    assert.equal(onlyOpen.length, 1, 'only the open row overlaps a future window');
    assert.equal(onlyOpen[0].ended_at, null);
    const past = await history('agent1@acme.test', '?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z');
    assert.equal(past.length, 0);
    let r = await api(s.url, 'GET', `/api/v1/agents/${A('agent1@acme.test')}/history?from=yesterday`, { token: root() });
    assert.equal(r.status, 422);
    r = await api(s.url, 'GET', `/api/v1/agents/${A('agent1@acme.test')}/history`, { token: tok['admin@globex.test'] });
    assert.equal(r.status, 404);
    r = await api(s.url, 'GET', `/api/v1/agents/${A('agent1@acme.test')}/history`, { token: tok['agent2@acme.test'] });
    assert.equal(r.status, 200, 'colleagues can read history of their client');
  });

  test('stats over a short real timeline: seconds, uptime, occupancy per agent and client', async () => {
    const e = 'agent3@globex.test';
    const t = root();
    const from = new Date().toISOString();
    let r = await patch('root@demo.test', e, { status: 'online' });
    assert.equal(r.status, 200);
    await sleep(1000);
    r = await patch('root@demo.test', e, { status: 'busy' });
    assert.equal(r.status, 200);
    await sleep(1000);
    r = await patch('root@demo.test', e, { status: 'away' });
    const to = new Date(Date.now() + 500).toISOString();
    await sleep(500);
    const globexId = agents[e].client_id;
    r = await api(s.url, 'GET', `/api/v1/agents/stats?client_id=${globexId}&from=${from}&to=${to}`, { token: t });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.from, new Date(Date.parse(from)).toISOString());
    assert.equal(r.json.agents.length, 3);
    const st = r.json.agents.find((a) => a.agent_id === A(e));
    assert.ok(st.ms.online >= 950 && st.ms.online <= 1400, `online ${st.ms.online}`);
    assert.ok(st.ms.busy >= 950 && st.ms.busy <= 1400, `busy ${st.ms.busy}`);
    assert.ok(st.ms.away >= 300 && st.ms.away <= 700, `away ${st.ms.away}`);
    const covered = st.ms.online + st.ms.busy + st.ms.away + st.ms.offline;
    assert.ok(Math.abs(st.covered_seconds * 1000 - covered) < 1);
    assert.ok(Math.abs(st.uptime - (st.ms.online + st.ms.busy) / covered) < 1e-9);
    assert.ok(Math.abs(st.occupancy - st.ms.busy / (st.ms.online + st.ms.busy)) < 1e-9);
    assert.ok(Math.abs(st.seconds.busy - st.ms.busy / 1000) < 1e-9);
    assert.equal(r.json.clients.length, 1);
    const c = r.json.clients[0];
    assert.equal(c.client_id, globexId);
    assert.equal(c.agents, 3);
    const sum = (k) => r.json.agents.reduce((n, a) => n + a.ms[k], 0);
    for (const k of ['online', 'away', 'busy', 'offline']) assert.equal(c.ms[k], sum(k));
    // an agent that was offline all the time: no occupancy
    const idle = r.json.agents.find((a) => a.ms.online + a.ms.busy === 0);
    assert.ok(idle);
    assert.equal(idle.occupancy, null);
    assert.equal(idle.uptime, 0);
  });

  test('stats defaults, scope and errors', async () => {
    let r = await api(s.url, 'GET', '/api/v1/agents/stats', { token: tok['admin@acme.test'] });
    assert.equal(r.status, 200);
    assert.equal(r.json.agents.length, 5, 'admin sees own client only');
    assert.equal(r.json.clients.length, 1);
    assert.ok(Math.abs(Date.parse(r.json.to) - Date.parse(r.json.from) - 24 * 3600e3) < 1, 'default 24 h');
    r = await api(s.url, 'GET', '/api/v1/agents/stats', { token: root() });
    assert.equal(r.json.agents.length, 8);
    assert.equal(r.json.clients.length, 2);
    r = await api(s.url, 'GET', `/api/v1/agents/stats?client_id=${agents['agent1@globex.test'].client_id}`, { token: tok['admin@acme.test'] });
    assert.equal(r.status, 404);
    r = await api(s.url, 'GET', '/api/v1/agents/stats?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', { token: root() });
    assert.equal(r.status, 422);
    r = await api(s.url, 'GET', '/api/v1/agents/stats?to=garbage', { token: root() });
    assert.equal(r.status, 422);
    r = await api(s.url, 'GET', '/api/v1/agents/stats');
    assert.equal(r.status, 401);
  });
});

describe('the agents list: search, sort, paging and totals', () => {
  // A tenant of its own with 130 agents seeded in bulk ("Agent 0001".."Agent 0130",
  // bulk0001@big.test...), statuses cycling online, away, busy, offline.
  const N = 130;
  let big; // client id
  let bigAdmin; // token
  const get = (path, token = bigAdmin) => api(s.url, 'GET', path, { token });

  before(async () => {
    let r = await api(s.url, 'POST', '/api/v1/clients', { token: root(), body: { name: 'Big Co', slug: 'big-co' } });
    assert.equal(r.status, 201, r.text);
    big = r.json.id;
    r = await api(s.url, 'POST', '/api/v1/users', {
      token: root(),
      body: { email: 'admin@big.test', name: 'Big admin', role: 'admin', client_id: big, password: 'big-password-1' },
    });
    assert.equal(r.status, 201, r.text);
    seedAgents(s.dbPath, { clientId: big, n: N, tag: 0xb16, domain: 'big.test' });
    bigAdmin = (await login(s.url, 'admin@big.test', 'big-password-1')).access_token;
  });

  async function all(query) {
    const rows = [];
    let cursor = null;
    let total = null;
    for (let page = 0; page < 20; page++) {
      const r = await get(`/api/v1/agents?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      if (total === null) total = r.json.total;
      assert.equal(r.json.total, total, 'the total does not depend on the page');
      rows.push(...r.json.data);
      cursor = r.json.next_cursor;
      if (!cursor) return { rows, total };
    }
    throw new Error('more than 20 pages');
  }

  test('paging through more than 50 agents with limit/cursor; total is the whole set', async () => {
    let r = await get('/api/v1/agents');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 50, 'default page size');
    assert.equal(r.json.total, N);
    assert.ok(r.json.next_cursor);
    const { rows, total } = await all('limit=50');
    assert.equal(total, N);
    assert.equal(rows.length, N);
    assert.equal(new Set(rows.map((a) => a.id)).size, N, 'no row twice');
    assert.deepEqual(rows.map((a) => a.display_name), Array.from({ length: N }, (_, i) => seedName(i + 1)), 'default order: display_name');
    assert.ok(rows.every((a) => a.client_id === big));
    r = await get('/api/v1/agents?limit=500');
    assert.equal(r.json.data.length, N);
    assert.equal(r.json.next_cursor, null);
    assert.equal(r.json.total, N, 'a page that holds every row counts them too');
    r = await get('/api/v1/agents?limit=500&status=online');
    assert.equal(r.json.next_cursor, null);
    assert.equal(r.json.total, r.json.data.length);
  });

  test('sort by any column the board shows, ascending and descending', async () => {
    let r = await get('/api/v1/agents?sort=-display_name&limit=3');
    assert.deepEqual(r.json.data.map((a) => a.display_name), [seedName(N), seedName(N - 1), seedName(N - 2)]);
    assert.equal(r.json.total, N);
    for (const col of ['status', 'status_since', 'reason', 'updated_at']) {
      for (const dir of ['', '-']) {
        const { rows } = await all(`limit=37&sort=${dir}${col}`);
        assert.equal(rows.length, N, `${dir}${col}: every row once`);
        assert.equal(new Set(rows.map((a) => a.id)).size, N);
        const keys = rows.map((a) => a[col] ?? '');
        const sorted = keys.slice().sort();
        if (dir) sorted.reverse();
        assert.deepEqual(keys, sorted, `${dir}${col} order`);
      }
    }
    const { rows } = await all('limit=50&sort=status');
    assert.equal(rows[0].status, 'away');
    assert.equal(rows[N - 1].status, 'online');
  });

  test('q searches the display name and the agent\'s e-mail, case-insensitively, on the server', async () => {
    let r = await get('/api/v1/agents?q=agent%200077');
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 1);
    assert.equal(r.json.data[0].display_name, seedName(77));
    r = await get('/api/v1/agents?q=BULK0123%40big');
    assert.equal(r.json.total, 1, 'by e-mail');
    assert.equal(r.json.data[0].display_name, seedName(123));
    r = await get('/api/v1/agents?q=big.test&limit=10');
    assert.equal(r.json.total, N, 'every agent by e-mail domain');
    assert.equal(r.json.data.length, 10);
    const expected = Array.from({ length: N }, (_, i) => seedName(i + 1)).filter((n) => n.includes('Agent 01'));
    r = await get('/api/v1/agents?q=agent%2001&limit=5');
    assert.equal(r.json.total, expected.length, 'Agent 0010..0019 and 0100..0130');
    assert.equal(r.json.data.length, 5);
    const { rows } = await all('q=agent%2001&limit=7&sort=-display_name');
    assert.deepEqual(rows.map((a) => a.display_name), expected.reverse());
    r = await get('/api/v1/agents?q=%25');
    assert.equal(r.json.total, 0, '% is literal');
    r = await get('/api/v1/agents?q=agent_0');
    assert.equal(r.json.total, 0, '_ is literal');
    r = await get('/api/v1/agents?q=nobody-here');
    assert.deepEqual([r.json.total, r.json.data, r.json.next_cursor], [0, [], null]);
    r = await get('/api/v1/agents?q=bulk&status=busy&count_by=status');
    assert.equal(r.json.total, Array.from({ length: N }, (_, i) => i + 1).filter((i) => i % 4 === 3).length);
    assert.deepEqual(r.json.counts, { busy: r.json.total });
  });

  test('count_by=status: counts per status for the same filter as total', async () => {
    let r = await get('/api/v1/agents?count_by=status&limit=1');
    assert.equal(r.status, 200);
    assert.equal(r.json.total, N);
    const expect = { online: 0, away: 0, busy: 0, offline: 0 };
    for (let i = 1; i <= N; i++) expect[['offline', 'online', 'away', 'busy'][i % 4]]++;
    assert.deepEqual(r.json.counts, expect);
    r = await get('/api/v1/agents?count_by=status&q=agent%2000');
    assert.equal(Object.values(r.json.counts).reduce((a, b) => a + b, 0), r.json.total);
    assert.equal(r.json.total, 99);
    r = await get('/api/v1/agents?limit=1');
    assert.equal(r.json.counts, undefined, 'no counts unless asked');
  });

  test('the tenant policy applies to lists, search and totals', async () => {
    const acme = tok['admin@acme.test'];
    let r = await get('/api/v1/agents?q=big.test', acme);
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.total, r.json.data], [0, []], 'another tenant\'s agents never appear');
    r = await get('/api/v1/agents?limit=500&count_by=status', acme);
    assert.equal(r.json.total, 5);
    assert.ok(r.json.data.every((a) => a.client_id !== big));
    r = await get(`/api/v1/agents?client_id=${big}`, acme);
    assert.ok(r.status === 200 || r.status === 404 || r.status === 403, r.text);
    if (r.status === 200) assert.deepEqual([r.json.total, r.json.data], [0, []]);
    r = await get('/api/v1/agents?q=acme.test', bigAdmin);
    assert.deepEqual([r.json.total, r.json.data], [0, []], 'nor the other way round (by e-mail)');
    r = await get('/api/v1/agents?q=big.test&limit=1', root());
    assert.equal(r.json.total, N, 'super_admin sees every tenant');
    r = await get('/api/v1/agents?limit=1', root());
    assert.equal(r.json.total, N + 8);
  });

  test('bad list parameters: 422 naming the field, nothing listed', async () => {
    const cases = [
      ['sort=nosuch', 'sort'],
      ['sort=-nosuch', 'sort'],
      ['sort=updated_by', 'sort'],
      ['sort=', null],
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['count_by=display_name', 'count_by'],
      ['count_by=client_id', 'count_by'],
      ['count_by=nosuch', 'count_by'],
      ['status=sleeping&sort=bogus', 'sort'],
    ];
    for (const [query, field] of cases) {
      const r = await get(`/api/v1/agents?${query}`);
      if (field === null) {
        assert.equal(r.status, 200, query);
        continue;
      }
      assert.equal(r.status, 422, `${query}: ${r.text}`);
      assert.ok(r.json.error.details.some((d) => d.field === field), `${query} names ${field}: ${r.text}`);
      assert.equal(r.json.data, undefined);
    }
    const r = await get('/api/v1/agents?cursor=garbage');
    assert.equal(r.status, 422);
    const other = await get('/api/v1/agents?limit=2&sort=status');
    const mixed = await get(`/api/v1/agents?sort=display_name&cursor=${encodeURIComponent(other.json.next_cursor)}`);
    assert.equal(mixed.status, 422, 'a cursor made for another sort');
  });

  test('the other generic lists carry the total too', async () => {
    let r = await get('/api/v1/users?limit=2', bigAdmin);
    assert.equal(r.status, 200);
    assert.equal(r.json.total, N + 1);
    assert.equal(r.json.data.length, 2);
    r = await get('/api/v1/users?q=bulk0042&count_by=role', bigAdmin);
    assert.deepEqual([r.json.total, r.json.counts], [1, { agent: 1 }]);
    r = await get('/api/v1/users?count_by=email', bigAdmin);
    assert.equal(r.status, 422, 'never one count per row');
    r = await get('/api/v1/clients?limit=1', root());
    assert.equal(r.json.total, 3);
    r = await get('/api/v1/messages?limit=1', root());
    assert.equal(typeof r.json.total, 'number');
    assert.ok(r.json.total >= r.json.data.length);
  });
});

describe('reason on a status change', () => {
  test('a status change without a reason clears the old reason (single and bulk); the same status keeps it', async () => {
    let r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'away', reason: 'lunch' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.reason, 'lunch');
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'away' });
    assert.equal(r.json.reason, 'lunch', 'same status, no reason: kept');
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'busy' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.reason, null, 'no "lunch" while busy');
    assert.equal((await row('agent2@acme.test')).reason, null);
    const open = (await history('agent2@acme.test')).find((h) => !h.ended_at);
    assert.deepEqual([open.status, open.reason], ['busy', null]);
    r = await patch('admin@acme.test', 'agent2@acme.test', { status: 'away', reason: 'coffee' });
    assert.equal(r.json.reason, 'coffee');
    r = await api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok['admin@acme.test'], body: { ids: [A('agent2@acme.test')], status: 'online' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data[0].reason, null, 'bulk without a reason clears it too');
  });
});

function tokUser(email) {
  const payload = JSON.parse(Buffer.from(tok[email].split('.')[1], 'base64url').toString());
  return payload.sub;
}
