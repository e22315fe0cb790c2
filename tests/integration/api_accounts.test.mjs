// Account care against the real binary: changing your own password (current one required,
// other sessions revoked, a new session for the caller, audited), an admin setting a user's
// password, one-time reset tokens (shown once, hashed at rest, single use, expiring, scoped,
// audited), renaming a client (audited), and a status change without a reason clearing it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

let s;
const tok = {};
const get = (path, t) => api(s.url, 'GET', path, { token: t });
const post = (path, t, body) => api(s.url, 'POST', path, { token: t, body });
const sql = (q) => execFileSync('sqlite3', [s.dbPath, q], { encoding: 'utf8' });

before(async () => {
  s = await startServer({ demo: true });
  for (const e of ['root@demo.test', 'admin@acme.test', 'admin@globex.test', 'agent1@acme.test']) {
    tok[e] = (await login(s.url, e)).access_token;
  }
});
after(async () => {
  await s?.cleanup();
});

async function userId(email) {
  const r = await get(`/api/v1/users?email=${encodeURIComponent(email)}`, tok['root@demo.test']);
  return r.json.data[0].id;
}
async function auditFor(id, action) {
  const r = await get(`/api/v1/audit?entity_id=${id}&action=${action}&limit=500`, tok['root@demo.test']);
  assert.equal(r.status, 200);
  return r.json.data;
}

describe('change your own password', () => {
  test('bad input changes nothing', async () => {
    const t = (await login(s.url, 'agent3@acme.test')).access_token;
    let r = await post('/api/v1/me/password', t, { current_password: 'wrong-password', new_password: 'another-pass-1' });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.error.details, [{ field: 'current_password', issue: 'incorrect' }]);
    r = await post('/api/v1/me/password', t, { new_password: 'short' });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.error.details.map((d) => d.field).sort(), ['current_password', 'new_password']);
    r = await post('/api/v1/me/password', undefined, { current_password: 'demo-password', new_password: 'another-pass-1' });
    assert.equal(r.status, 401);
    assert.equal((await get('/api/v1/me', t)).status, 200, 'the session still works');
    await login(s.url, 'agent3@acme.test'); // the old password still works
  });

  test('success: other sessions end, the caller gets a new session, audited', async () => {
    const a = await login(s.url, 'agent2@acme.test');
    const other = await login(s.url, 'agent2@acme.test');
    const r = await post('/api/v1/me/password', a.access_token, { current_password: 'demo-password', new_password: 'brand-new-pass-2' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.user.email, 'agent2@acme.test');
    assert.equal((await get('/api/v1/me', other.access_token)).status, 401, 'other session revoked');
    const ref = await post('/api/v1/auth/refresh', undefined, { refresh_token: other.refresh_token });
    assert.equal(ref.status, 401, 'other refresh token revoked');
    assert.equal((await get('/api/v1/me', r.json.access_token)).status, 200, 'new session works');
    const ref2 = await post('/api/v1/auth/refresh', undefined, { refresh_token: r.json.refresh_token });
    assert.equal(ref2.status, 200);
    const bad = await post('/api/v1/auth/login', undefined, { email: 'agent2@acme.test', password: 'demo-password' });
    assert.equal(bad.status, 401);
    await login(s.url, 'agent2@acme.test', 'brand-new-pass-2');
    const id = await userId('agent2@acme.test');
    const entries = await auditFor(id, 'user.update_password');
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actor_id, id);
    assert.ok(!JSON.stringify(entries[0]).includes('brand-new-pass-2'));
    assert.ok(!JSON.stringify(entries[0]).includes('password_hash'));
  });

  test('guessing the current password is limited like logins (429 with Retry-After)', async () => {
    const u = await post('/api/v1/users', tok['admin@acme.test'], { email: 'guess@acme.test', name: 'Guess', role: 'viewer', password: 'guess-password-1' });
    assert.equal(u.status, 201, u.text);
    const t = (await login(s.url, 'guess@acme.test', 'guess-password-1')).access_token;
    let r;
    for (let i = 0; i < 10; i++) {
      r = await post('/api/v1/me/password', t, { current_password: `wrong-${i}-password`, new_password: 'another-pass-1' });
      assert.equal(r.status, 422);
    }
    r = await post('/api/v1/me/password', t, { current_password: 'guess-password-1', new_password: 'another-pass-1' });
    assert.equal(r.status, 429, 'even the right one waits now');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal(r.json.error.code, 'rate_limited');
    await login(s.url, 'guess@acme.test', 'guess-password-1').then(
      () => assert.fail('login from this address is limited too'), (e) => assert.match(e.message, /429/));
  });
});

describe('admins and passwords', () => {
  test('an admin sets a user password with PATCH: audited, sessions revoked', async () => {
    const victim = await login(s.url, 'agent4@acme.test');
    const id = await userId('agent4@acme.test');
    const r = await api(s.url, 'PATCH', `/api/v1/users/${id}`, { token: tok['admin@acme.test'], body: { password: 'set-by-admin-3' } });
    assert.equal(r.status, 200);
    assert.equal((await get('/api/v1/me', victim.access_token)).status, 401);
    await login(s.url, 'agent4@acme.test', 'set-by-admin-3');
    const e = await auditFor(id, 'user.update_password');
    assert.equal(e.length, 1);
    assert.equal(e[0].actor_email, 'admin@acme.test');
  });

  test('an audit entry names its actor by the e-mail the user has at that moment', async () => {
    const t = (await login(s.url, 'viewer@acme.test')).access_token;
    const id = await userId('viewer@acme.test');
    let r = await api(s.url, 'PATCH', `/api/v1/users/${id}`, { token: tok['admin@acme.test'], body: { email: 'viewer-renamed@acme.test' } });
    assert.equal(r.status, 200, r.text);
    r = await api(s.url, 'PUT', '/api/v1/me/preferences', { token: t, body: { sound: true } });
    assert.equal(r.status, 200, r.text);
    const e = await auditFor(id, 'user.update_preferences');
    assert.equal(e.length, 1);
    assert.equal(e[0].actor_id, id);
    assert.equal(e[0].actor_email, 'viewer-renamed@acme.test', 'the e-mail after the change');
    r = await api(s.url, 'PATCH', `/api/v1/users/${id}`, { token: tok['admin@acme.test'], body: { email: 'viewer@acme.test' } });
    assert.equal(r.status, 200, r.text); // as it was, for the tests below
  });

  test('reset token: shown once, hashed at rest, single use, scoped, audited', async () => {
    const id = await userId('agent5@acme.test');
    const victim = await login(s.url, 'agent5@acme.test');
    // scope: another tenant's admin sees no such user; an agent may not; nobody without a token
    assert.equal((await post(`/api/v1/users/${id}/reset-token`, tok['admin@globex.test'])).status, 404);
    assert.equal((await post(`/api/v1/users/${id}/reset-token`, tok['agent1@acme.test'])).status, 403);
    assert.equal((await post(`/api/v1/users/${id}/reset-token`)).status, 401);
    const rootId = await userId('root@demo.test');
    assert.equal((await post(`/api/v1/users/${rootId}/reset-token`, tok['admin@acme.test'])).status, 404);

    const r = await post(`/api/v1/users/${id}/reset-token`, tok['admin@acme.test']);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.user_id, id);
    assert.match(r.json.token, /^[A-Za-z0-9_-]{43}$/);
    const exp = Date.parse(r.json.expires_at);
    assert.ok(exp > Date.now() + 50 * 60 * 1000 && exp <= Date.now() + 61 * 60 * 1000, 'expires in an hour');
    assert.ok(!sql('SELECT key || value FROM meta').includes(r.json.token), 'only a hash is stored');
    const audit = await auditFor(id, 'user.reset_token');
    assert.equal(audit.length, 1);
    assert.ok(!JSON.stringify(audit[0]).includes(r.json.token), 'the token is not in the audit log');

    // bad input changes nothing
    let x = await post('/api/v1/auth/reset', undefined, { token: r.json.token, new_password: 'short' });
    assert.equal(x.status, 422);
    assert.deepEqual(x.json.error.details, [{ field: 'new_password', issue: 'too_short' }]);
    x = await post('/api/v1/auth/reset', undefined, { token: 'A'.repeat(43), new_password: 'reset-pass-4444' });
    assert.equal(x.status, 422);
    assert.deepEqual(x.json.error.details, [{ field: 'token', issue: 'invalid_or_expired' }]);
    await login(s.url, 'agent5@acme.test'); // unchanged so far

    x = await post('/api/v1/auth/reset', undefined, { token: r.json.token, new_password: 'reset-pass-4444' });
    assert.equal(x.status, 200, x.text);
    assert.equal((await get('/api/v1/me', victim.access_token)).status, 401, 'sessions revoked');
    await login(s.url, 'agent5@acme.test', 'reset-pass-4444');
    const again = await post('/api/v1/auth/reset', undefined, { token: r.json.token, new_password: 'reset-pass-5555' });
    assert.equal(again.status, 422, 'single use');
    await login(s.url, 'agent5@acme.test', 'reset-pass-4444');
    const pw = await auditFor(id, 'user.update_password');
    assert.equal(pw.length, 1);
    assert.equal(pw[0].actor_id, id);
  });

  test('an expired reset token is refused', async () => {
    const id = await userId('viewer@acme.test');
    const r = await post(`/api/v1/users/${id}/reset-token`, tok['admin@acme.test']);
    assert.equal(r.status, 201);
    sql(`UPDATE meta SET value = json_set(value, '$.expires_at_ms', 1) WHERE value LIKE '%${id}%'`);
    const x = await post('/api/v1/auth/reset', undefined, { token: r.json.token, new_password: 'too-late-pass-1' });
    assert.equal(x.status, 422);
    assert.deepEqual(x.json.error.details, [{ field: 'token', issue: 'invalid_or_expired' }]);
    await login(s.url, 'viewer@acme.test');
  });
});

describe('clients and agents', () => {
  test('renaming a client works and is audited', async () => {
    const c = await get('/api/v1/clients?slug=globex', tok['root@demo.test']);
    const g = c.json.data[0];
    const r = await api(s.url, 'PATCH', `/api/v1/clients/${g.id}`, { token: tok['root@demo.test'], body: { name: 'Globex Renamed' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'Globex Renamed');
    assert.equal(r.json.slug, 'globex');
    const e = await auditFor(g.id, 'client.update');
    assert.equal(e.length, 1);
    assert.equal(e[0].before.name, g.name);
    assert.equal(e[0].after.name, 'Globex Renamed');
    const bad = await api(s.url, 'PATCH', `/api/v1/clients/${g.id}`, { token: tok['root@demo.test'], body: { name: '' } });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error.details[0].field, 'name');
    assert.equal((await get(`/api/v1/clients/${g.id}`, tok['root@demo.test'])).json.name, 'Globex Renamed');
  });

  test('a status change without a reason clears the old reason; the same status keeps it', async () => {
    const a = await get('/api/v1/agents?limit=1', tok['admin@acme.test']);
    const id = a.json.data[0].id;
    const patch = (body) => api(s.url, 'PATCH', `/api/v1/agents/${id}`, { token: tok['admin@acme.test'], body });
    let r = await patch({ status: 'busy', reason: 'lunch' });
    assert.equal(r.json.reason, 'lunch');
    r = await patch({ status: 'busy' });
    assert.equal(r.json.reason, 'lunch', 'same status, no reason: kept');
    r = await patch({ status: 'online' });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'online');
    assert.equal(r.json.reason, null);
    r = await patch({ reason: 'on the phone' });
    assert.equal(r.json.reason, 'on the phone', 'a reason alone edits the reason');
    assert.equal(r.json.status, 'online');
  });
});
