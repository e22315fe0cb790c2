// Issue 3: the access matrix role x endpoint x own/other tenant, generated from the table in
// lib/matrix.mjs, against the real server; every response of a tenant user is scanned for
// identifiers of the other tenant. Then an Acme admin tries every filter, sort and cursor
// trick to see a Globex row.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, startServer } from './lib/server.mjs';
import { ACTORS, cells, walk } from './lib/matrix.mjs';

let srv;
const tok = {}; // actor key -> access token
const tenants = {}; // 'acme' | 'globex' -> client row
const secrets = { acme: new Set(), globex: new Set() }; // identifiers of each tenant
const fixedUser = {}; // tenant -> a user id to read
let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

function remember(tenant, ...values) {
  for (const v of values) if (v) secrets[tenant].add(String(v).toLowerCase());
}

// Assert that body text of a response seen by a user of `tenant` holds nothing of the other.
function assertNoLeak(tenant, text, what) {
  if (!tenant || !text) return;
  const foreign = tenant === 'acme' ? 'globex' : 'acme';
  const low = text.toLowerCase();
  for (const s of secrets[foreign]) {
    assert.ok(!low.includes(s), `${what}: response of a ${tenant} user contains ${foreign} identifier ${s}: ${text.slice(0, 400)}`);
  }
}

async function rootCall(method, path, body) {
  const r = await api(srv.url, method, path, { token: tok.super_admin, body });
  assert.ok(r.status < 300, `setup ${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

async function freshUser(tenant) {
  const u = await rootCall('POST', '/api/v1/users', {
    email: `mx-${uniq()}@${tenant}.test`, name: `mx ${tenant}`, role: 'viewer',
    client_id: tenants[tenant].id, password: 'matrix-password-1',
  });
  remember(tenant, u.id, u.email);
  return u;
}

before(async () => {
  srv = await startServer({ args: ['--login-attempts', '1000'] });
  for (const a of ACTORS) tok[a.key] = (await login(srv.url, a.email)).access_token;
  const clients = await walk(api, srv.url, '/api/v1/clients?limit=100', tok.super_admin);
  for (const name of ['acme', 'globex']) {
    tenants[name] = clients.find((c) => c.slug === name);
    assert.ok(tenants[name], `demo client ${name}`);
    remember(name, tenants[name].id, name);
    const users = await walk(api, srv.url, `/api/v1/users?client_id=${tenants[name].id}&limit=100`, tok.super_admin);
    assert.ok(users.length >= 4, `${name} users`);
    for (const u of users) remember(name, u.id, u.email);
    fixedUser[name] = users.find((u) => u.email === `agent3@${name}.test`).id;
    // agent rows, messages: anything else with an id in the tenant
    const agents = await walk(api, srv.url, `/api/v1/agents?client_id=${tenants[name].id}`, tok.super_admin).catch(() => []);
    for (const ag of agents) remember(name, ag.id);
  }
});

after(async () => { await srv?.cleanup(); });

function tenantOf(actor, target) {
  const own = actor.tenant || 'acme';
  return target === 'own' ? own : (own === 'acme' ? 'globex' : 'acme');
}

// Build the request of one cell (creating throwaway rows through root where a cell writes).
async function requestOf(cell) {
  const { actor, ep, target, expect } = cell;
  const t = tenantOf(actor, target);
  const cid = tenants[t].id;
  switch (ep.name) {
    case 'me': return { path: '/api/v1/me' };
    case 'clients.list': return { path: `/api/v1/clients?slug=${t}` };
    case 'clients.get': return { path: `/api/v1/clients/${cid}` };
    case 'users.list': return { path: `/api/v1/users?client_id=${cid}&limit=100` };
    case 'users.get': return { path: `/api/v1/users/${fixedUser[t]}` };
    case 'audit.list': return { path: `/api/v1/audit?client_id=${cid}&limit=100` };
    case 'audit.verify': return { path: '/api/v1/audit/verify' };
    case 'clients.update': return { path: `/api/v1/clients/${cid}`, body: { settings: {} } };
    case 'users.update': {
      const u = await freshUser(t);
      return { path: `/api/v1/users/${u.id}`, body: { name: 'mx renamed' } };
    }
    case 'clients.create': return { path: '/api/v1/clients', body: { name: 'mx client', slug: `mx-${uniq()}` } };
    case 'users.create':
      return {
        path: '/api/v1/users',
        body: { email: `mx-${uniq()}@${t}.test`, name: 'mx new', role: 'viewer', client_id: cid, password: 'matrix-password-1' },
        tenant: t,
      };
    case 'clients.delete': {
      if (expect >= 300) return { path: `/api/v1/clients/${cid}` };
      const c = await rootCall('POST', '/api/v1/clients', { name: 'mx doomed', slug: `mx-${uniq()}` });
      return { path: `/api/v1/clients/${c.id}?confirm=${c.slug}` };
    }
    case 'users.delete': {
      const u = await freshUser(t);
      return { path: `/api/v1/users/${u.id}` };
    }
    default: throw new Error(ep.name);
  }
}

const all = cells();

test('the matrix is generated and complete', () => {
  // 5 actors x (12 endpoints x 2 targets + /me)
  assert.equal(all.length, 5 * (12 * 2 + 1));
  assert.ok(all.some((c) => c.expect === 403) && all.some((c) => c.expect === 404) && all.some((c) => c.expect === 422));
});

for (const cell of all) {
  const { actor, ep, target, expect } = cell;
  test(`${actor.key} ${ep.method} ${ep.name} [${target}] -> ${expect}`, async () => {
    const req = await requestOf(cell);
    const r = await api(srv.url, ep.method, req.path, { token: tok[actor.key], body: req.body });
    assert.equal(r.status, expect, `${ep.method} ${req.path}: ${r.text.slice(0, 500)}`);
    assert.ok(r.json, 'JSON body');
    if (r.status >= 400) {
      assert.equal(typeof r.json.error?.code, 'string', r.text);
      assert.equal(typeof r.json.error?.message, 'string', r.text);
    }
    if (ep.name === 'users.create' && r.status === 201) remember(req.tenant, r.json.id, r.json.email);
    if (ep.name === 'clients.create' && r.status === 201) remember('acme', null); // no tenant
    // Lists scoped to the other tenant answer nothing for tenant users.
    if (r.status === 200 && ep.op === 'list' && actor.tenant) {
      if (target === 'other') assert.equal(r.json.data.length, 0, `foreign list must be empty: ${r.text.slice(0, 300)}`);
      else assert.ok(r.json.data.length > 0, 'own list is not empty');
    }
    if (ep.name === 'me') {
      assert.equal(r.json.user.email, actor.email);
      assert.equal(r.json.user.password_hash, undefined);
    }
    assertNoLeak(actor.tenant, r.text, `${actor.key} ${ep.name} ${target}`);
  });
}

test('an Acme admin sees no Globex row by any filter, sort or cursor', async () => {
  const t = tok.admin;
  const g = tenants.globex;
  const gadmin = [...secrets.globex].find((s) => s === 'admin@globex.test');
  assert.ok(gadmin);
  const globexAdminId = (await rootCall('GET', `/api/v1/users?email=admin@globex.test`)).data[0].id;
  const probes = [
    `/api/v1/users?client_id=${g.id}`, '/api/v1/users?q=globex', '/api/v1/users?email=admin@globex.test',
    '/api/v1/users?email=ADMIN@GLOBEX.TEST', `/api/v1/users?q=${globexAdminId}`, '/api/v1/users?role=admin',
    '/api/v1/users?status=active&limit=500', '/api/v1/clients?slug=globex', '/api/v1/clients?q=globex',
    '/api/v1/clients?q=Globex', '/api/v1/clients?status=active', `/api/v1/audit?client_id=${g.id}`,
    `/api/v1/audit?entity_id=${g.id}`, `/api/v1/audit?entity_id=${globexAdminId}`,
    `/api/v1/audit?actor_id=${globexAdminId}`, '/api/v1/audit?q=globex', '/api/v1/audit?action=auth.login&limit=500',
    '/api/v1/audit?entity_type=user&limit=500', '/api/v1/audit?entity_type=client&limit=500',
    `/api/v1/clients/${g.id}`, `/api/v1/users/${globexAdminId}`,
  ];
  for (const p of probes) {
    const r = await api(srv.url, 'GET', p, { token: t });
    assert.ok([200, 404, 422].includes(r.status), `${p}: ${r.status} ${r.text}`);
    if (r.status === 200 && Array.isArray(r.json.data)) {
      for (const row of r.json.data) {
        assert.notEqual(row.client_id, g.id, `${p} returned a globex row`);
        if (row.slug) assert.notEqual(row.slug, 'globex');
      }
    }
    assertNoLeak('acme', r.text, p);
  }
  // Sort and cursor walking over every sortable column, small pages.
  for (const path of ['/api/v1/users', '/api/v1/clients', '/api/v1/audit']) {
    for (const sort of ['', 'created_at', '-created_at', 'email', '-email', 'name', '-name', 'slug', 'seq', '-seq', 'at']) {
      const r = await api(srv.url, 'GET', `${path}?limit=7${sort ? `&sort=${sort}` : ''}`, { token: t });
      if (r.status === 422) continue; // not a sortable column of that table
      assert.equal(r.status, 200, `${path} sort=${sort}: ${r.text}`);
      const rows = await walk(api, srv.url, `${path}?limit=7${sort ? `&sort=${sort}` : ''}`, t);
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const tenant = path === '/api/v1/clients' ? row.id : row.client_id;
        assert.equal(tenant, tenants.acme.id, `${path} sort=${sort}: foreign row ${JSON.stringify(row).slice(0, 200)}`);
      }
    }
  }
  // A cursor minted by root (positioned among Globex rows) does not open Globex to the admin.
  for (const path of ['/api/v1/users?limit=1&sort=-email', '/api/v1/audit?limit=1', '/api/v1/clients?limit=1&sort=slug']) {
    let cursor = null;
    for (let i = 0; i < 15; i++) {
      const sep = '&';
      const rr = await api(srv.url, 'GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path, { token: tok.super_admin });
      cursor = rr.json.next_cursor;
      if (!cursor) break;
      const r = await api(srv.url, 'GET', `${path}${sep}cursor=${encodeURIComponent(cursor)}`, { token: t });
      assert.ok([200, 422].includes(r.status), r.text);
      if (r.status === 200) {
        for (const row of r.json.data) {
          const tenant = path.startsWith('/api/v1/clients') ? row.id : row.client_id;
          assert.equal(tenant, tenants.acme.id);
        }
      }
      assertNoLeak('acme', r.text, `cursor of root on ${path}`);
    }
  }
});
