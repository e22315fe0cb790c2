// Deleting a client against the real binary: GET /clients/{id}/impact counts what goes with
// it (users, agents, messages, history) as the panel shows it; DELETE needs ?confirm= with the
// client's slug or name (422 on "confirm" otherwise, nothing deleted), after the role and view
// checks (403/404 first), and then removes the tenant with its rows, audited once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

let s;
const tok = {};
let acme;
let globex;
const get = (path, t = tok.root) => api(s.url, 'GET', path, { token: t });
const del = (path, t = tok.root) => api(s.url, 'DELETE', path, { token: t });

before(async () => {
  s = await startServer({ demo: true });
  tok.root = (await login(s.url, 'root@demo.test')).access_token;
  tok.admin = (await login(s.url, 'admin@acme.test')).access_token;
  tok.gadmin = (await login(s.url, 'admin@globex.test')).access_token;
  const c = await get('/api/v1/clients');
  acme = c.json.data.find((x) => x.slug === 'acme');
  globex = c.json.data.find((x) => x.slug === 'globex');
});
after(async () => {
  await s?.cleanup();
});

test('impact counts match the lists, for whoever may read the client', async () => {
  const r = await get(`/api/v1/clients/${globex.id}/impact`);
  assert.equal(r.status, 200);
  const users = await get(`/api/v1/users?client_id=${globex.id}&limit=1`);
  const agents = await get(`/api/v1/agents?client_id=${globex.id}&limit=1`);
  const messages = await get(`/api/v1/messages?client_id=${globex.id}&limit=1`);
  assert.deepEqual(r.json, {
    client_id: globex.id, name: globex.name, slug: 'globex',
    deletes: { users: users.json.total, agents: agents.json.total, messages: messages.json.total, agent_history: r.json.deletes.agent_history },
  });
  assert.equal(r.json.deletes.users, 4); // admin + 3 agents
  assert.equal(r.json.deletes.agents, 3);
  assert.ok(r.json.deletes.agent_history >= 3);
  assert.equal((await get(`/api/v1/clients/${globex.id}/impact`, tok.gadmin)).status, 200, 'own client');
  assert.equal((await get(`/api/v1/clients/${globex.id}/impact`, tok.admin)).status, 404, 'other tenant');
  assert.equal((await get('/api/v1/clients/00000000-0000-4000-8000-000000000000/impact')).status, 404);
});

test('delete without the right confirm is 422 and deletes nothing; roles and views come first', async () => {
  let r = await del(`/api/v1/clients/${globex.id}`);
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details, [{ field: 'confirm', issue: 'required' }]);
  r = await del(`/api/v1/clients/${globex.id}?confirm=acme`);
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details, [{ field: 'confirm', issue: 'must_match_slug_or_name' }]);
  r = await del(`/api/v1/clients/${globex.id}?confirm=GLOBEX`);
  assert.equal(r.status, 422, 'case matters');
  assert.equal((await del(`/api/v1/clients/${globex.id}?confirm=globex`, tok.gadmin)).status, 403);
  assert.equal((await del(`/api/v1/clients/${globex.id}?confirm=globex`, tok.admin)).status, 404);
  assert.equal((await get(`/api/v1/clients/${globex.id}`)).status, 200, 'still there');
  assert.equal((await get(`/api/v1/clients/${globex.id}/impact`)).json.deletes.users, 4);
});

test('delete with the name (URL-encoded) removes the tenant and its rows, audited', async () => {
  const r = await del(`/api/v1/clients/${globex.id}?confirm=${encodeURIComponent(globex.name)}`);
  assert.equal(r.status, 200, r.text);
  assert.equal((await get(`/api/v1/clients/${globex.id}`)).status, 404);
  assert.equal((await get(`/api/v1/users?client_id=${globex.id}`)).json.total, 0);
  assert.equal((await get(`/api/v1/agents?client_id=${globex.id}`)).json.total, 0);
  const a = await get(`/api/v1/audit?entity_id=${globex.id}&action=client.delete`);
  assert.equal(a.json.data.length, 1);
  // a slug works too
  const c = await api(s.url, 'POST', '/api/v1/clients', { token: tok.root, body: { name: 'Doomed Co', slug: 'doomed' } });
  assert.equal((await del(`/api/v1/clients/${c.json.id}?confirm=doomed`)).status, 200);
});
