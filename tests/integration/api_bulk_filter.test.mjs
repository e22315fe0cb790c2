// Bulk status by filter (issue 13: "select all" applies to the filtered set, beyond one page):
// POST /api/v1/agents/bulk-status {filter: {status?, q?, client_id?}, expected_count?, status,
// reason}. Every agent the list finds with those parameters, in the caller's tenant only, in
// one transaction: each with its history row and audit entry plus one bulk_update entry, each
// change in the change log (realtime). A count that no longer matches the confirmed one is a
// 409 with the current count; bad input is a 422; nothing changes on any failure. A tenant of
// 10,001 agents seeded in bulk is over the limit as a whole and fine when narrowed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, startServer } from './lib/server.mjs';
import { sql } from './lib/rt_helpers.mjs';
import { seedAgents } from './lib/seed.mjs';

let s;
const tok = {};
before(async () => {
  s = await startServer();
  for (const e of ['admin@acme.test', 'admin@globex.test', 'root@demo.test', 'agent1@acme.test', 'viewer@acme.test']) tok[e] = (await login(s.url, e)).access_token;
});
after(async () => { await s?.cleanup(); });

const bulk = (body, who = 'admin@acme.test') => api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: tok[who], body });
const agents = async (who, qs = '') => (await api(s.url, 'GET', `/api/v1/agents?limit=500${qs}`, { token: tok[who] })).json.data;
const snap = (rows) => rows.map((r) => `${r.id}:${r.status}:${r.reason}:${r.version}`).sort();
const auditCount = async (action) => (await api(s.url, 'GET', `/api/v1/audit?action=${action}&limit=1`, { token: tok['root@demo.test'] })).json.total;
const headSeq = () => Number(sql(s, 'SELECT coalesce(max(seq), 0) AS n FROM changes')[0].n);

describe('bulk status by filter', () => {
  test('every matching agent of the tenant, and no other tenant\'s', async () => {
    const globex0 = snap(await agents('admin@globex.test'));
    const acme0 = await agents('admin@acme.test');
    assert.equal(acme0.length, 5);
    const audits0 = await auditCount('agent_status.update');
    const seq0 = headSeq();
    // "agent1" matches agent1@acme.test and agent1@globex.test by e-mail: only Acme's moves.
    let r = await bulk({ filter: { q: 'agent1' }, status: 'busy', reason: 'calls', expected_count: 1 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { updated: 1 });
    // The whole tenant (no filter keys), confirmed with its count.
    r = await bulk({ filter: {}, status: 'away', reason: 'meeting', expected_count: 5 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated, 5);
    const acme1 = await agents('admin@acme.test');
    assert.ok(acme1.every((a) => a.status === 'away' && a.reason === 'meeting'), JSON.stringify(acme1));
    assert.deepEqual(snap(await agents('admin@globex.test')), globex0, 'Globex untouched');
    // An admin naming another tenant finds nothing there.
    const globexId = (await agents('admin@globex.test'))[0].client_id;
    r = await bulk({ filter: { client_id: globexId }, status: 'busy' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated, 0);
    assert.deepEqual(snap(await agents('admin@globex.test')), globex0, 'Globex still untouched');
    // Audit: one entry per agent change and one per bulk request (with the filter and count).
    assert.equal(await auditCount('agent_status.update'), audits0 + 6);
    const root = tok['root@demo.test'];
    const bu = (await api(s.url, 'GET', '/api/v1/audit?action=agent_status.bulk_update&limit=5', { token: root })).json.data;
    assert.equal(bu.length, 3);
    assert.deepEqual(bu.map((e) => e.after.count).sort(), [0, 1, 5]);
    assert.deepEqual(bu.find((e) => e.after.count === 5).after, { count: 5, status: 'away', reason: 'meeting', filter: {} });
    // The change log (what realtime delivers) has each change, and none of Globex's.
    const ch = sql(s, `SELECT client_id, count(*) AS n FROM changes WHERE seq > ${seq0} AND table_name = 'agent_status' GROUP BY client_id`);
    assert.deepEqual(ch.map((x) => [x.client_id, Number(x.n)]), [[acme0[0].client_id, 6]]);
  });

  test('status filter: only the agents in that status; super_admin picks a tenant', async () => {
    const a = await agents('admin@acme.test');
    await bulk({ ids: [a[0].id, a[1].id], status: 'online' });
    let r = await bulk({ filter: { status: 'online' }, status: 'offline', expected_count: 2 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated, 2);
    const after1 = await agents('admin@acme.test');
    assert.equal(after1.filter((x) => x.status === 'offline').length, 2);
    const acme = snap(after1);
    const globexId = (await agents('admin@globex.test'))[0].client_id;
    r = await bulk({ filter: { client_id: globexId }, status: 'busy', reason: 'root' }, 'root@demo.test');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated, 3);
    assert.ok((await agents('admin@globex.test')).every((x) => x.status === 'busy' && x.reason === 'root'));
    assert.deepEqual(snap(await agents('admin@acme.test')), acme, 'Acme untouched by the Globex change');
  });

  test('the count changed since it was confirmed: 409 with the current count, nothing changed', async () => {
    const before1 = snap(await agents('admin@acme.test'));
    const r = await bulk({ filter: {}, status: 'busy', expected_count: 4 });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.current.count, 5);
    assert.deepEqual(r.json.error.details, [{ field: 'expected_count', issue: 'does_not_match' }]);
    assert.match(r.json.error.message, /5 agents match now, not 4/);
    assert.deepEqual(snap(await agents('admin@acme.test')), before1);
  });

  test('bad input and roles: clear errors, nothing changed', async () => {
    const before1 = snap(await agents('admin@acme.test'));
    const bu0 = await auditCount('agent_status.bulk_update');
    const cases = [
      [{ filter: 'all', status: 'busy' }, 422, 'filter', 'must_be_object'],
      [{ filter: { shoe: 'x' }, status: 'busy' }, 422, 'filter.shoe', 'unknown_field'],
      [{ filter: { status: 'sleepy' }, status: 'busy' }, 422, 'filter.status', 'invalid'],
      [{ filter: { status: 3 }, status: 'busy' }, 422, 'filter.status', 'must_be_string'],
      [{ filter: { client_id: 'not-a-uuid' }, status: 'busy' }, 422, 'filter.client_id', 'invalid'],
      [{ filter: { q: 'x'.repeat(201) }, status: 'busy' }, 422, 'filter.q', 'too_long'],
      [{ filter: {}, status: 'nope' }, 422, 'status', 'invalid'],
      [{ filter: {} }, 422, 'status', 'required'],
      [{ filter: {}, ids: [], status: 'busy' }, 422, 'filter', 'not_with_ids'],
      [{ filter: {}, status: 'busy', expected_count: -1 }, 422, 'expected_count', 'must_be_non_negative_integer'],
      [{ filter: {}, status: 'busy', expected_count: '5' }, 422, 'expected_count', 'must_be_non_negative_integer'],
      [{ ids: [(await agents('admin@acme.test'))[0].id], status: 'busy', expected_count: 1 }, 422, 'expected_count', 'only_with_filter'],
    ];
    for (const [body, status, field, issue] of cases) {
      const r = await bulk(body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.ok(r.json.error.details.some((d) => d.field === field && d.issue === issue), `${JSON.stringify(body)}: ${r.text}`);
    }
    // A viewer may not; an agent may not change its colleagues (its filter finds them).
    assert.equal((await bulk({ filter: {}, status: 'busy' }, 'viewer@acme.test')).status, 403);
    assert.equal((await bulk({ filter: {}, status: 'busy' }, 'agent1@acme.test')).status, 403);
    assert.deepEqual(snap(await agents('admin@acme.test')), before1);
    assert.equal(await auditCount('agent_status.bulk_update'), bu0);
  });
});

describe('a tenant of 10,001 agents', () => {
  test('over the limit as a whole (422, nothing changed); narrowed by status it applies', { timeout: 300000 }, async () => {
    const c = await api(s.url, 'POST', '/api/v1/clients', { token: tok['root@demo.test'], body: { name: 'Huge', slug: 'huge' } });
    assert.equal(c.status, 201, c.text);
    const cid = (c.json.data || c.json).id;
    await api(s.url, 'POST', '/api/v1/users', { token: tok['root@demo.test'], body: { email: 'admin@huge.test', name: 'Huge admin', role: 'admin', client_id: cid, password: 'huge-password-1' } });
    seedAgents(s.dbPath, { clientId: cid, n: 10001, tag: 0xb01c, domain: 'huge.test' });
    tok.huge = (await login(s.url, 'admin@huge.test', 'huge-password-1')).access_token;
    const count = async (qs) => (await api(s.url, 'GET', `/api/v1/agents?limit=1&count_by=status${qs}`, { token: tok.huge })).json;
    assert.equal((await count('')).total, 10001);
    let r = await bulk({ filter: {}, status: 'busy' }, 'huge');
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.json.error.details, [{ field: 'filter', issue: 'too_many' }]);
    assert.deepEqual((await count('')).counts, { online: 2501, away: 2500, busy: 2500, offline: 2500 });
    // Narrowed to one status (2,501 agents, more than five pages of the list): all of them.
    r = await bulk({ filter: { status: 'online' }, status: 'away', reason: 'break', expected_count: 2501 }, 'huge');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated, 2501);
    assert.deepEqual((await count('')).counts, { away: 5001, busy: 2500, offline: 2500 });
    assert.equal((await count('&q=break')).total, 2501, 'the reason was set on each');
    assert.equal((await count('&client_id=' + cid)).total, 10001);
  });
});
