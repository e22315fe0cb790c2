// System messages over HTTP against the real binary: CRUD with validation (422 with field
// details), who may write global and per-client messages, If-Match conflicts, the server
// moving states on time (a 2 s expiry seen as expired within ~1 s of expires_at, a scheduled
// message activating), filters, statistics, and exactly one audit entry per write.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

const root = () => tok['root@demo.test'];
const admin = () => tok['admin@acme.test'];
const post = (t, body) => api(s.url, 'POST', '/api/v1/messages', { token: t, body });

async function auditCount(entityId) {
  const r = await api(s.url, 'GET', `/api/v1/audit?entity_id=${entityId}&limit=500`, { token: root() });
  assert.equal(r.status, 200);
  return r.json.data.length;
}

describe('create, read, update, delete', () => {
  test('admin creates for its client: defaults, state active, one audit entry', async () => {
    const r = await post(admin(), { title: 'Hello', body: 'World', priority: 'high' });
    assert.equal(r.status, 201, r.text);
    const m = r.json;
    assert.equal(m.client_id, acme);
    assert.equal(m.state, 'active');
    assert.equal(m.priority, 'high');
    assert.equal(m.expires_at, null);
    assert.equal(m.version, 1);
    assert.ok(Math.abs(Date.parse(m.starts_at) - Date.now()) < 5000);
    assert.ok(m.created_by);
    assert.equal(await auditCount(m.id), 1);
    const audit = await api(s.url, 'GET', `/api/v1/audit?entity_id=${m.id}`, { token: admin() });
    assert.equal(audit.json.data[0].action, 'message.create');
    assert.equal(audit.json.data[0].entity_type, 'system_message');
    let g = await api(s.url, 'GET', `/api/v1/messages/${m.id}`, { token: tok['agent1@acme.test'] });
    assert.equal(g.status, 200);
    g = await api(s.url, 'GET', `/api/v1/messages/${m.id}`, { token: tok['admin@globex.test'] });
    assert.equal(g.status, 404);
    const def = await post(admin(), { title: 'Default prio', body: 'b' });
    assert.equal(def.json.priority, 'normal');
  });

  test('validation errors are 422 with field details and write nothing', async () => {
    const cases = [
      [{ title: '', body: 'b' }, 'title', 'required'],
      [{ body: 'b' }, 'title', 'required'],
      [{ title: 'x'.repeat(201), body: 'b' }, 'title', 'too_long'],
      [{ title: 't', body: 'x'.repeat(5001) }, 'body', 'too_long'],
      [{ title: 't' }, 'body', 'required'],
      [{ title: 't', body: 'b', priority: 'urgent' }, 'priority', 'invalid'],
      [{ title: 't', body: 'b', starts_at: 'tomorrow' }, 'starts_at', 'must_be_rfc3339'],
      [{ title: 't', body: 'b', starts_at: '2030-01-02T00:00:00Z', expires_at: '2030-01-01T00:00:00Z' }, 'expires_at', 'must_be_after_starts_at'],
      [{ title: 't', body: 'b', starts_at: '2030-01-01T00:00:00Z', expires_at: '2030-01-01T00:00:00Z' }, 'expires_at', 'must_be_after_starts_at'],
      [{ title: 't', body: 'b', state: 'active' }, 'state', 'read_only'],
      [{ title: 't', body: 'b', colour: 1 }, 'colour', 'unknown_field'],
      [{ title: 't', body: 'b', client_id: globex }, 'client_id', 'not_found'],
    ];
    const before = await api(s.url, 'GET', '/api/v1/messages/stats', { token: root() });
    for (const [body, field, issue] of cases) {
      const r = await post(admin(), body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.equal(r.json.error.code, 'validation_failed');
      assert.ok(r.json.error.details.some((d) => d.field === field && d.issue === issue),
        `${JSON.stringify(body)} -> ${JSON.stringify(r.json.error.details)}`);
    }
    const r = await post(admin(), { title: 'x'.repeat(201), body: '', priority: 'zzz' });
    assert.equal(r.json.error.details.length, 3, 'every problem is reported');
    const after = await api(s.url, 'GET', '/api/v1/messages/stats', { token: root() });
    assert.equal(after.json.total, before.json.total);
  });

  test('global messages: super_admin only; agents and viewers write nothing', async () => {
    let r = await post(admin(), { title: 'g', body: 'b', client_id: null });
    assert.equal(r.status, 403);
    r = await post(tok['agent1@acme.test'], { title: 'g', body: 'b' });
    assert.equal(r.status, 403);
    r = await post(tok['viewer@acme.test'], { title: 'g', body: 'b' });
    assert.equal(r.status, 403);
    r = await post(root(), { title: 'Global one', body: 'for all', priority: 'critical' });
    assert.equal(r.status, 201);
    assert.equal(r.json.client_id, null);
    const gid = r.json.id;
    r = await post(root(), { title: 'For globex', body: 'b', client_id: globex });
    assert.equal(r.status, 201);
    assert.equal(r.json.client_id, globex);
    r = await post(root(), { title: 'x', body: 'b', client_id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(r.status, 422);
    // an admin sees the global message but may not change it
    r = await api(s.url, 'GET', `/api/v1/messages/${gid}`, { token: admin() });
    assert.equal(r.status, 200);
    r = await api(s.url, 'PATCH', `/api/v1/messages/${gid}`, { token: admin(), body: { title: 'mine' } });
    assert.equal(r.status, 403);
    r = await api(s.url, 'DELETE', `/api/v1/messages/${gid}`, { token: admin() });
    assert.equal(r.status, 403);
    assert.equal(await auditCount(gid), 1);
  });

  test('update with If-Match, 409 with the current row, cross-tenant 404, delete', async () => {
    const m = (await post(admin(), { title: 'v1', body: 'b' })).json;
    let r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { title: 'v2' }, headers: { 'if-match': '1' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.title, 'v2');
    assert.equal(r.json.version, 2);
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { title: 'v3' }, headers: { 'if-match': '1' } });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.current.version, 2);
    assert.equal(r.json.error.current.title, 'v2');
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { title: 'v3', expected_version: 1 } });
    assert.equal(r.status, 409);
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { expires_at: '2000-01-01T00:00:00Z' } });
    assert.equal(r.status, 422, 'expires_at before starts_at');
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { client_id: null } });
    assert.equal(r.status, 403, 'an admin cannot make it global');
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: tok['admin@globex.test'], body: { title: 'x' } });
    assert.equal(r.status, 404);
    r = await api(s.url, 'DELETE', `/api/v1/messages/${m.id}`, { token: tok['admin@globex.test'] });
    assert.equal(r.status, 404);
    assert.equal(await auditCount(m.id), 2, 'create + one update; failures write nothing');
    // moving expires_at into the past expires it at once; into the future re-activates
    const past = new Date(Date.now() - 1000).toISOString();
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { starts_at: new Date(Date.now() - 5000).toISOString(), expires_at: past } });
    assert.equal(r.status, 200);
    assert.equal(r.json.state, 'expired');
    r = await api(s.url, 'PATCH', `/api/v1/messages/${m.id}`, { token: admin(), body: { expires_at: null } });
    assert.equal(r.json.state, 'active');
    r = await api(s.url, 'DELETE', `/api/v1/messages/${m.id}`, { token: admin() });
    assert.equal(r.status, 200);
    r = await api(s.url, 'GET', `/api/v1/messages/${m.id}`, { token: admin() });
    assert.equal(r.status, 404);
    assert.equal(await auditCount(m.id), 5);
  });
});

describe('states on time', () => {
  test('a message with a 2 s expiry is expired within ~1 s of expires_at', async () => {
    const expires = Date.now() + 2000;
    const r = await post(admin(), { title: 'Short', body: 'b', expires_at: new Date(expires).toISOString() });
    assert.equal(r.status, 201);
    assert.equal(r.json.state, 'active');
    let seen = null;
    const deadline = expires + 3000;
    while (Date.now() < deadline) {
      const g = await api(s.url, 'GET', `/api/v1/messages/${r.json.id}`, { token: admin() });
      if (g.json.state === 'expired') { seen = Date.now(); assert.equal(g.json.version, 2); break; }
      await sleep(50);
    }
    assert.ok(seen, 'the message expired');
    assert.ok(seen - expires <= 1000, `expired ${seen - expires} ms after expires_at`);
    assert.ok(seen >= expires, 'not before its time');
    // kept and filterable; agents no longer see it
    const l = await api(s.url, 'GET', '/api/v1/messages?state=expired', { token: admin() });
    assert.ok(l.json.data.some((m) => m.id === r.json.id));
    const g = await api(s.url, 'GET', `/api/v1/messages/${r.json.id}`, { token: tok['agent1@acme.test'] });
    assert.equal(g.status, 404);
    const audit = await api(s.url, 'GET', `/api/v1/audit?entity_id=${r.json.id}`, { token: root() });
    const exp = audit.json.data.find((a) => a.action === 'message.expire');
    assert.ok(exp, 'the expiry is audited');
    assert.equal(exp.actor_id, 'system');
    assert.equal(audit.json.data.length, 2);
  });

  test('a scheduled message activates on time and only then reaches agents', async () => {
    const starts = Date.now() + 1500;
    const r = await post(admin(), { title: 'Later', body: 'b', priority: 'low', starts_at: new Date(starts).toISOString() });
    assert.equal(r.status, 201);
    assert.equal(r.json.state, 'scheduled');
    let g = await api(s.url, 'GET', `/api/v1/messages/${r.json.id}`, { token: tok['agent1@acme.test'] });
    assert.equal(g.status, 404, 'agents only see active messages');
    let seen = null;
    while (Date.now() < starts + 3000) {
      g = await api(s.url, 'GET', `/api/v1/messages/${r.json.id}`, { token: admin() });
      if (g.json.state === 'active') { seen = Date.now(); break; }
      await sleep(50);
    }
    assert.ok(seen && seen - starts <= 1000 && seen >= starts, `activated ${seen - starts} ms after starts_at`);
    g = await api(s.url, 'GET', `/api/v1/messages/${r.json.id}`, { token: tok['agent1@acme.test'] });
    assert.equal(g.status, 200);
    const audit = await api(s.url, 'GET', `/api/v1/audit?entity_id=${r.json.id}`, { token: root() });
    assert.deepEqual(audit.json.data.map((a) => a.action).sort(), ['message.activate', 'message.create']);
  });
});

describe('lists and statistics', () => {
  test('filters by client, state and priority within the reader\'s scope', async () => {
    let r = await api(s.url, 'GET', '/api/v1/messages?priority=critical', { token: admin() });
    assert.ok(r.json.data.length >= 1);
    assert.ok(r.json.data.every((m) => m.priority === 'critical'));
    r = await api(s.url, 'GET', '/api/v1/messages?limit=500', { token: admin() });
    assert.ok(r.json.data.every((m) => m.client_id === acme || m.client_id === null));
    r = await api(s.url, 'GET', '/api/v1/messages?limit=500', { token: tok['agent1@acme.test'] });
    assert.ok(r.json.data.every((m) => m.state === 'active'));
    r = await api(s.url, 'GET', `/api/v1/messages?client_id=${globex}`, { token: admin() });
    assert.equal(r.json.data.length, 0);
    r = await api(s.url, 'GET', '/api/v1/messages?state=bogus', { token: admin() });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 0);
  });

  test('messages/stats counts by state and priority as the lists do', async () => {
    for (const t of [root(), admin(), tok['agent1@acme.test'], tok['admin@globex.test']]) {
      const st = await api(s.url, 'GET', '/api/v1/messages/stats', { token: t });
      assert.equal(st.status, 200);
      const all = (await api(s.url, 'GET', '/api/v1/messages?limit=500', { token: t })).json.data;
      assert.equal(st.json.total, all.length);
      for (const k of ['scheduled', 'active', 'expired']) {
        assert.equal(st.json.by_state[k], all.filter((m) => m.state === k).length, k);
      }
      for (const p of ['low', 'normal', 'high', 'critical']) {
        assert.equal(st.json.by_priority[p], all.filter((m) => m.priority === p).length, p);
        assert.equal(st.json.active_by_priority[p], all.filter((m) => m.priority === p && m.state === 'active').length);
      }
    }
    const a = await api(s.url, 'GET', '/api/v1/messages/stats', { token: admin() });
    assert.ok(a.json.by_state.expired >= 1);
    const g = await api(s.url, 'GET', `/api/v1/messages/stats?client_id=${acme}`, { token: tok['admin@globex.test'] });
    assert.equal(g.status, 404);
  });
});
