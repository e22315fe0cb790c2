// Logout of one session versus logout everywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, login } from './lib/server.mjs';

let s;
before(async () => { s = await startServer({ args: ['--login-attempts', '100'] }); });
after(async () => { await s?.cleanup(); });

test('logout ends only the calling session', async () => {
  const a = await login(s.url, 'agent4@acme.test');
  const b = await login(s.url, 'agent4@acme.test');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/logout', { token: a.access_token })).status, 200);
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: a.access_token })).status, 401);
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: a.refresh_token } })).status, 401);
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: b.access_token })).status, 200);
});

test('logout everywhere ends every session of the user, not other users', async () => {
  const a = await login(s.url, 'agent5@acme.test');
  const b = await login(s.url, 'agent5@acme.test');
  const other = await login(s.url, 'agent3@acme.test');
  const r = await api(s.url, 'POST', '/api/v1/auth/logout', { token: a.access_token, body: { everywhere: true } });
  assert.equal(r.status, 200);
  for (const t of [a, b]) {
    assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: t.access_token })).status, 401);
    assert.equal((await api(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: t.refresh_token } })).status, 401);
  }
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: other.access_token })).status, 200);
  // A new login works at once.
  await new Promise((res) => setTimeout(res, 50));
  const again = await login(s.url, 'agent5@acme.test');
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: again.access_token })).status, 200);
  // Audited.
  const root = await login(s.url, 'root@demo.test');
  const audit = await api(s.url, 'GET', '/api/v1/audit?action=auth.logout_all', { token: root.access_token });
  assert.equal(audit.json.data.length, 1);
});

test('a malformed logout body is a 400 and changes nothing', async () => {
  const a = await login(s.url, 'agent2@acme.test');
  const r = await api(s.url, 'POST', '/api/v1/auth/logout', { token: a.access_token, headers: { 'content-type': 'application/json' }, body: undefined });
  assert.equal(r.status, 200); // no body: the plain logout
  const b = await login(s.url, 'agent2@acme.test');
  const bad = await fetch(s.url + '/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${b.access_token}`, 'content-type': 'application/json' }, body: '[1,2' });
  assert.equal(bad.status, 400);
  assert.equal((await api(s.url, 'GET', '/api/v1/me', { token: b.access_token })).status, 200);
});
