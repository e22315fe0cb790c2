// Issue 3: authentication flows over HTTP against the real server: JWT negatives, refresh
// rotation and reuse detection, logout, password change and disabling cutting access,
// optimistic concurrency and the last super_admin, request validation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { api, login, startServer } from './lib/server.mjs';
import { decodeJwt, signJwt } from './lib/matrix.mjs';

const SECRET = 'integration-test-secret-0123456789-abcdef';
let srv;
let root; // login of root@demo.test
let n = 0;
const uniq = () => `${Date.now().toString(36)}${(n++).toString(36)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  // --refresh-grace 0: a reuse is theft at once (the grace is auth_refresh_grace.test.mjs's).
  srv = await startServer({ args: ['--login-attempts', '1000', '--jwt-secret', SECRET, '--refresh-grace', '0'] });
  root = await login(srv.url, 'root@demo.test');
});
after(async () => { await srv?.cleanup(); });

const me = (token) => api(srv.url, 'GET', '/api/v1/me', { token });
const asRoot = (method, path, body, headers) => api(srv.url, method, path, { token: root.access_token, body, headers });

function assert401(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error?.code, 'unauthorized', `${what}: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
}

// Poll until fn() is true or ms pass; returns the elapsed time or -1.
async function within(ms, fn) {
  const t0 = Date.now();
  while (Date.now() - t0 <= ms) {
    if (await fn()) return Date.now() - t0;
    await sleep(25);
  }
  return -1;
}

async function newUser(fields = {}) {
  const body = {
    email: `fl-${uniq()}@acme.test`, name: 'flow user', role: 'agent', password: 'first-password-1',
    ...fields,
  };
  if (body.role !== 'super_admin' && !('client_id' in body)) body.client_id = root.user.client_id ?? (await acmeId());
  const r = await asRoot('POST', '/api/v1/users', body);
  assert.equal(r.status, 201, r.text);
  return { ...r.json, password: body.password };
}
let acme;
async function acmeId() {
  if (!acme) acme = (await asRoot('GET', '/api/v1/clients?slug=acme')).json.data[0].id;
  return acme;
}

test('JWT negatives at the HTTP level all answer 401 with the JSON error', async () => {
  const good = root.access_token;
  assert.equal((await me(good)).status, 200);
  const claims = decodeJwt(good);
  const now = Math.floor(Date.now() / 1000);
  const right = (p) => signJwt(p, SECRET);
  // control: a token we forge with the server's key is accepted, so the negatives mean something
  const forgedOk = right({ ...claims, iat: now, exp: now + 300, sid: crypto.randomUUID() });
  assert.equal((await me(forgedOk)).status, 200, 'a correctly signed token works');

  const noHeader = await api(srv.url, 'GET', '/api/v1/me');
  assert401(noHeader, 'no Authorization header');
  const cases = {
    'Bearer only': 'Bearer',
    'Bearer empty': 'Bearer ',
    'Basic scheme': `Basic ${Buffer.from('root@demo.test:demo-password').toString('base64')}`,
    'garbage': 'Bearer garbage',
    'three empty segments': 'Bearer ..',
    'alg none, no signature': `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${good.split('.')[1]}.`,
    'alg none with signature': `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${good.split('.')[1]}.${good.split('.')[2]}`,
    'alg HS512 header': `Bearer ${signJwt(claims, SECRET, { alg: 'HS512', typ: 'JWT' })}`,
    'another key': `Bearer ${signJwt({ ...claims, exp: now + 300 }, 'another-key-another-key-another-key-0')}`,
    'expired, right key': `Bearer ${right({ ...claims, iat: now - 3600, exp: now - 120 })}`,
    'not yet valid, right key': `Bearer ${right({ ...claims, iat: now + 3600, exp: now + 7200 })}`,
    'truncated': `Bearer ${good.slice(0, -5)}`,
    'payload tampered': `Bearer ${good.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, role: 'super_admin', exp: now + 9999 })).toString('base64url')}.${good.split('.')[2]}`,
    'oversized garbage': `Bearer ${'a'.repeat(9000)}`,
    'oversized valid signature': `Bearer ${right({ ...claims, exp: now + 300, pad: 'x'.repeat(9000) })}`,
    'unknown user, right key': `Bearer ${right({ ...claims, sub: crypto.randomUUID(), iat: now, exp: now + 300 })}`,
    'role raised, right key': `Bearer ${right({ sub: decodeJwt((await login(srv.url, 'viewer@acme.test')).access_token).sub, role: 'super_admin', client_id: null, sid: crypto.randomUUID(), iat: now, exp: now + 300 })}`,
  };
  for (const [what, header] of Object.entries(cases)) {
    const r = await api(srv.url, 'GET', '/api/v1/me', { headers: { authorization: header } });
    assert401(r, what);
    const r2 = await api(srv.url, 'GET', '/api/v1/users', { headers: { authorization: header } });
    assert401(r2, `${what} on /users`);
  }
  // the server is still fine
  assert.equal((await me(good)).status, 200);
});

test('refresh rotates; reuse of an old refresh token revokes the whole family', async () => {
  const l1 = await login(srv.url, 'agent2@acme.test');
  const u = { ...l1.user, password: 'demo-password' };
  const sid = decodeJwt(l1.access_token).sid;
  assert.ok(sid);
  const r1 = await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l1.refresh_token } });
  assert.equal(r1.status, 200, r1.text);
  const l2 = r1.json;
  assert.notEqual(l2.refresh_token, l1.refresh_token);
  assert.equal(l2.token_type, 'Bearer');
  assert.ok(l2.expires_in > 0);
  assert.equal(decodeJwt(l2.access_token).sid, sid, 'same family');
  assert.equal((await me(l2.access_token)).status, 200);

  // reuse of the rotated token
  const reuse = await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l1.refresh_token } });
  assert401(reuse, 'old refresh token reused');
  // the newest refresh token of the family is revoked too
  assert401(await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l2.refresh_token } }), 'new refresh token after reuse');
  // and the family's access tokens stop working
  assert401(await me(l2.access_token), 'access token of the revoked family');
  assert401(await me(l1.access_token), 'first access token of the revoked family');
  // an audit entry records the reuse
  const a = await asRoot('GET', `/api/v1/audit?action=auth.refresh_reuse&entity_id=${sid}`);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.data.length, 1, a.text);
  assert.equal(a.json.data[0].actor_id, u.id);
  assert.ok(!a.text.includes(l1.refresh_token) && !a.text.includes(l2.refresh_token), 'no token in audit');
  // a fresh login of the same user is not affected
  const l3 = await login(srv.url, u.email, u.password);
  assert.equal((await me(l3.access_token)).status, 200);
  // nonsense refresh tokens
  assert401(await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: 'x'.repeat(43) } }), 'unknown refresh token');
  const bad = await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: 42 } });
  assert.equal(bad.status, 422, bad.text);
});

test('logout revokes the access token and the refresh token', async () => {
  const u = { email: 'agent3@acme.test', password: 'demo-password' };
  const l = await login(srv.url, u.email, u.password);
  u.id = l.user.id;
  const other = await login(srv.url, u.email, u.password); // a second session of the same user
  assert.equal((await me(l.access_token)).status, 200);
  const out = await api(srv.url, 'POST', '/api/v1/auth/logout', { token: l.access_token });
  assert.equal(out.status, 200, out.text);
  assert401(await me(l.access_token), 'access token after logout');
  assert401(await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l.refresh_token } }), 'refresh token after logout');
  assert401(await api(srv.url, 'POST', '/api/v1/auth/logout', { token: l.access_token }), 'second logout');
  assert.equal((await me(other.access_token)).status, 200, 'the other session lives on');
  const a = await asRoot('GET', `/api/v1/audit?action=auth.logout&actor_id=${u.id}`);
  assert.equal(a.json.data.length, 1, a.text);
});

test('a password change cuts the user\'s existing access tokens within 1 s', async () => {
  const u = { email: 'agent4@acme.test', password: 'demo-password' };
  const l = await login(srv.url, u.email, u.password);
  u.id = l.user.id;
  assert.equal((await me(l.access_token)).status, 200);
  const r = await asRoot('PATCH', `/api/v1/users/${u.id}`, { password: 'second-password-2' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.password_hash, undefined);
  assert.equal(r.json.password, undefined);
  const t = await within(1000, async () => (await me(l.access_token)).status === 401);
  assert.ok(t >= 0, 'access token still works 1 s after the password change');
  assert401(await me(l.access_token), 'old access token');
  assert401(await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l.refresh_token } }), 'old refresh token');
  const old = await api(srv.url, 'POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } });
  assert401(old, 'old password');
  const fresh = await login(srv.url, u.email, 'second-password-2');
  assert.equal((await me(fresh.access_token)).status, 200, 'a login after the change works at once');
  assert.equal((await me(root.access_token)).status, 200, 'other users are not affected');
});

test('a disabled user loses access within 1 s', async () => {
  const u = { email: 'agent5@acme.test', password: 'demo-password' };
  const l = await login(srv.url, u.email, u.password);
  u.id = l.user.id;
  assert.equal((await me(l.access_token)).status, 200);
  const r = await asRoot('PATCH', `/api/v1/users/${u.id}`, { status: 'disabled' });
  assert.equal(r.status, 200, r.text);
  const ms = await within(1000, async () => (await me(l.access_token)).status === 401);
  assert.ok(ms >= 0, 'access token of a disabled user still works after 1 s');
  assert401(await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: l.refresh_token } }), 'refresh of a disabled user');
  assert401(await api(srv.url, 'POST', '/api/v1/auth/login', { body: { email: u.email, password: u.password } }), 'login of a disabled user');
});

// The auth user-state cache learns users created after startup from the store read at login
// and from the change log (through the realtime hub): both must work, so this must pass.
test('a user created after startup can use its access token at once', async () => {
  const u = await newUser({ role: 'viewer' });
  const l = await login(srv.url, u.email, u.password);
  const r = await me(l.access_token);
  assert.equal(r.status, 200, `a new user's token is refused: ${r.text}`);
});

test('optimistic concurrency: stale If-Match or expected_version answers 409 with the current row', async () => {
  const u = await newUser({ role: 'viewer' });
  assert.equal(u.version, 1);
  const p1 = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'v2' }, { 'if-match': '1' });
  assert.equal(p1.status, 200, p1.text);
  assert.equal(p1.json.version, 2);
  const stale = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'lost update' }, { 'if-match': '1' });
  assert.equal(stale.status, 409, stale.text);
  assert.equal(stale.json.error.code, 'version_conflict', stale.text);
  assert.equal(stale.json.error.current.version, 2);
  assert.equal(stale.json.error.current.name, 'v2');
  assert.equal(stale.json.error.current.password_hash, undefined);
  const staleBody = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'lost', expected_version: 1 });
  assert.equal(staleBody.status, 409, staleBody.text);
  assert.equal(staleBody.json.error.current.version, 2);
  const ok = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'v3' }, { 'if-match': String(stale.json.error.current.version) });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.version, 3);
  assert.equal(ok.json.name, 'v3');
  const quoted = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'v4' }, { 'if-match': '"3"' });
  assert.equal(quoted.status, 200, quoted.text);
  const junk = await asRoot('PATCH', `/api/v1/users/${u.id}`, { name: 'x' }, { 'if-match': 'abc' });
  assert.equal(junk.status, 422, junk.text);
  // the same on clients
  const c = await asRoot('POST', '/api/v1/clients', { name: 'cc', slug: `cc-${uniq()}` });
  assert.equal(c.status, 201, c.text);
  const cs = await asRoot('PATCH', `/api/v1/clients/${c.json.id}`, { name: 'cc2' }, { 'if-match': '7' });
  assert.equal(cs.status, 409, cs.text);
  assert.equal(cs.json.error.current.version, 1);
  assert.equal((await asRoot('DELETE', `/api/v1/clients/${c.json.id}?confirm=${c.json.slug}`)).status, 200);
});

test('e-mail uniqueness is case-insensitive', async () => {
  const local = `dup-${uniq()}`;
  const u = await newUser({ email: `${local}@Acme.test` });
  assert.equal(u.email, `${local}@acme.test`);
  const again = await asRoot('POST', '/api/v1/users', {
    email: `${local.toUpperCase()}@ACME.TEST`, name: 'dup', role: 'viewer', client_id: await acmeId(), password: 'whatever-password',
  });
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.error.code, 'conflict');
  const v = await newUser({ role: 'viewer' });
  const clash = await asRoot('PATCH', `/api/v1/users/${v.id}`, { email: `${local}@ACME.test` });
  assert.equal(clash.status, 409, clash.text);
  // login is case-insensitive too
  const l = await login(srv.url, `${local.toUpperCase()}@acme.TEST`, u.password);
  assert.equal(l.user.id, u.id);
});

test('request validation: 422 per field, 400 bad JSON, 415, 413, depth 65, unknown fields', async () => {
  const headers = { authorization: `Bearer ${root.access_token}`, 'content-type': 'application/json' };
  const post = (body, h = headers) => fetch(`${srv.url}/api/v1/users`, { method: 'POST', headers: h, body })
    .then(async (r) => { const text = await r.text(); let json = null; try { json = JSON.parse(text); } catch { /* not JSON */ } return { status: r.status, text, json }; });

  const empty = await asRoot('POST', '/api/v1/users', {});
  assert.equal(empty.status, 422, empty.text);
  assert.equal(empty.json.error.code, 'validation_failed');
  const fields = new Set(empty.json.error.details.map((d) => d.field));
  for (const f of ['email', 'name', 'role', 'password']) assert.ok(fields.has(f), `details name ${f}: ${empty.text}`);
  for (const d of empty.json.error.details) assert.equal(typeof d.issue, 'string');

  const some = await asRoot('POST', '/api/v1/users', { email: 'not-an-email', name: 'x', role: 'emperor', password: 'short', client_id: await acmeId() });
  assert.equal(some.status, 422, some.text);
  const issues = Object.fromEntries(some.json.error.details.map((d) => [d.field, d.issue]));
  assert.ok(issues.email && issues.role && issues.password, some.text);

  const unknown = await asRoot('POST', '/api/v1/users', { email: `u-${uniq()}@acme.test`, name: 'x', role: 'viewer', password: 'long-enough-pass', client_id: await acmeId(), is_admin: true });
  assert.equal(unknown.status, 422, unknown.text);
  assert.deepEqual(unknown.json.error.details.map((d) => d.field), ['is_admin']);
  const unknownC = await asRoot('POST', '/api/v1/clients', { name: 'x', slug: `x-${uniq()}`, owner: 'me' });
  assert.equal(unknownC.status, 422, unknownC.text);

  const badJson = await post('{"email": "a@b.c",');
  assert.equal(badJson.status, 400, badJson.text);
  assert.equal(typeof badJson.json?.error?.code, 'string');
  assert.equal((await post('[1,2]')).status, 400);
  assert.equal((await post('')).status, 400);
  assert.equal((await post('{"a":1}{"b":2}')).status, 400);
  assert.equal((await post('{"a":1,"a":2}')).status, 400, 'duplicate keys');

  const wrongType = await post('{"email":"a@b.c"}', { ...headers, 'content-type': 'text/plain' });
  assert.equal(wrongType.status, 415, wrongType.text);
  assert.equal(wrongType.json?.error?.code, 'unsupported_media_type', wrongType.text);
  const noType = await fetch(`${srv.url}/api/v1/users`, { method: 'POST', headers: { authorization: headers.authorization }, body: Buffer.from('{}') });
  assert.equal(noType.status, 415);
  await noType.text();

  const deep = (d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d);
  const d65 = await post(deep(65));
  assert.equal(d65.status, 400, d65.text);
  const d64 = await post(deep(64));
  assert.equal(d64.status, 422, `depth 64 parses (then fails validation): ${d64.text}`);

  let big;
  try {
    big = await post(JSON.stringify({ name: 'x'.repeat(1024 * 1024) }));
  } catch (e) {
    assert.fail(`the server should answer 413, not drop the connection: ${e.cause?.code || e.message}`);
  }
  assert.equal(big.status, 413, big.text.slice(0, 200));
  assert.equal(big.json?.error?.code, 'payload_too_large', big.text.slice(0, 200));
  // nothing was half-applied and the server still answers
  assert.equal((await me(root.access_token)).status, 200);
});

test('the last active super_admin cannot be disabled or deleted; with a second one it can', async () => {
  const rootId = root.user.id;
  const d1 = await asRoot('PATCH', `/api/v1/users/${rootId}`, { status: 'disabled' });
  assert.equal(d1.status, 409, d1.text);
  assert.equal(d1.json.error.code, 'conflict');
  const d2 = await asRoot('DELETE', `/api/v1/users/${rootId}`);
  assert.equal(d2.status, 409, d2.text);
  assert.equal((await me(root.access_token)).status, 200, 'root untouched');

  const s2 = await newUser({ role: 'super_admin', email: `super-${uniq()}@demo.test` });
  assert.equal(s2.client_id, null);
  // with a second active super_admin, the first may be disabled (here: by itself)
  const off = await asRoot('PATCH', `/api/v1/users/${rootId}`, { status: 'disabled' });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.status, 'disabled');
  assert401(await me(root.access_token), 'disabled root');
  const l2 = await login(srv.url, s2.email, s2.password);
  // now s2 is the last active one
  const self = await api(srv.url, 'PATCH', `/api/v1/users/${s2.id}`, { token: l2.access_token, body: { status: 'disabled' } });
  assert.equal(self.status, 409, self.text);
  const selfDel = await api(srv.url, 'DELETE', `/api/v1/users/${s2.id}`, { token: l2.access_token });
  assert.equal(selfDel.status, 409, selfDel.text);
  // an admin may never touch a super_admin
  const acmeAdmin = await login(srv.url, 'admin@acme.test');
  const adm = await api(srv.url, 'DELETE', `/api/v1/users/${s2.id}`, { token: acmeAdmin.access_token });
  assert.equal(adm.status, 404, adm.text);
  // restore
  const on = await api(srv.url, 'PATCH', `/api/v1/users/${rootId}`, { token: l2.access_token, body: { status: 'active' } });
  assert.equal(on.status, 200, on.text);
  const del = await api(srv.url, 'DELETE', `/api/v1/users/${s2.id}`, { token: l2.access_token });
  assert.equal(del.status, 200, del.text);
  root = await login(srv.url, 'root@demo.test');
});
