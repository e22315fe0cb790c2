// Client-chosen ids never tell one tenant about another's rows (issue: hostile clients,
// item 9). Ids are global names: an id held by another tenant's row is not "taken" for you;
// your row gets a fresh id (201, the id it really has) and the other row is untouched. An id
// held by one of your own rows stays a 409 "id: taken" (an idempotent retry learns it
// succeeded). E-mail addresses are unique across tenants: "email: taken" never says where.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, login, startServer } from './lib/server.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await s?.cleanup(); });

test('a message id held by another tenant: a fresh id, nothing leaks, nothing changes', async () => {
  const acme = (await login(s.url, 'admin@acme.test')).access_token;
  const globex = (await login(s.url, 'admin@globex.test')).access_token;
  const id = randomUUID();
  const body = { title: 'Acme only', body: 'secret', priority: 'normal', starts_at: new Date().toISOString() };
  const mine = await api(s.url, 'POST', '/api/v1/messages', { token: acme, body: { ...body, id } });
  assert.equal(mine.status, 201, mine.text);
  assert.equal(mine.json.id ?? mine.json.data?.id, id);

  const probe = await api(s.url, 'POST', '/api/v1/messages', { token: globex, body: { ...body, title: 'Globex', id } });
  assert.equal(probe.status, 201, probe.text);
  const got = probe.json.id ?? probe.json.data?.id;
  assert.notEqual(got, id, 'the other tenant gets a row under a fresh id');
  assert.ok(!probe.text.includes('Acme only'));
  assert.equal((await api(s.url, 'GET', `/api/v1/messages/${id}`, { token: globex })).status, 404);
  const still = await api(s.url, 'GET', `/api/v1/messages/${id}`, { token: acme });
  assert.equal(still.status, 200);
  assert.equal((still.json.data ?? still.json).title, 'Acme only');

  // The same id again in its own tenant: a conflict naming the field, as a retry expects.
  const again = await api(s.url, 'POST', '/api/v1/messages', { token: acme, body: { ...body, id } });
  assert.equal(again.status, 409, again.text);
  assert.deepEqual(again.json.error.details, [{ field: 'id', issue: 'taken' }]);
});

test('a user id held by another tenant; e-mail uniqueness says nothing about where', async () => {
  const acme = (await login(s.url, 'admin@acme.test')).access_token;
  const globex = (await login(s.url, 'admin@globex.test')).access_token;
  const acmeUsers = (await api(s.url, 'GET', '/api/v1/users?limit=1', { token: acme })).json.data;
  const foreign = acmeUsers[0].id;
  const r = await api(s.url, 'POST', '/api/v1/users', { token: globex,
    body: { id: foreign, email: 'new-globex@globex.test', name: 'New', role: 'viewer', password: 'long-enough-password' } });
  assert.equal(r.status, 201, r.text);
  assert.notEqual(r.json.id ?? r.json.data?.id, foreign);
  assert.equal((await api(s.url, 'GET', `/api/v1/users/${foreign}`, { token: acme })).status, 200);

  const dup = await api(s.url, 'POST', '/api/v1/users', { token: globex,
    body: { email: 'admin@acme.test', name: 'Dup', role: 'viewer', password: 'long-enough-password' } });
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.json.error.details, [{ field: 'email', issue: 'taken' }]);
  assert.ok(!/acme/i.test(dup.json.error.message.replace('admin@acme.test', '')), dup.text);
  assert.ok(!dup.text.includes(acmeUsers[0].client_id), 'no tenant named in the answer');
});
