// Issue 11 item 11: two refreshes with the same refresh token at once (two tabs, a retry after
// a timeout) both get the SAME new pair within --refresh-grace (default 5 s); a reuse after the
// grace is still theft and revokes the whole session. Against the real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, startServer } from './lib/server.mjs';
import { decodeJwt } from './lib/matrix.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const refresh = (srv, token) => api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: token } });
const me = (srv, token) => api(srv.url, 'GET', '/api/v1/me', { token });

async function auditOf(srv, action, sid) {
  const root = await login(srv.url, 'root@demo.test');
  const r = await api(srv.url, 'GET', `/api/v1/audit?action=${action}&entity_id=${sid}`, { token: root.access_token });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

describe('default grace', () => {
  let srv;
  before(async () => { srv = await startServer({}); });
  after(async () => { await srv?.cleanup(); });

  test('concurrent refreshes with one token all get the same new pair, and the session lives on', async () => {
    const l = await login(srv.url, 'agent1@acme.test');
    const sid = decodeJwt(l.access_token).sid;
    const rs = await Promise.all(Array.from({ length: 5 }, () => refresh(srv, l.refresh_token)));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const pairs = new Set(rs.map((r) => `${r.json.refresh_token} ${r.json.access_token}`));
    assert.equal(pairs.size, 1, 'one new pair for all of them');
    const p = rs[0].json;
    assert.notEqual(p.refresh_token, l.refresh_token);
    for (const r of rs) assert.equal(r.json.user.email, 'agent1@acme.test');
    assert.equal(decodeJwt(p.access_token).sid, sid);
    // the pair works: /me, and the rotation goes on with the new refresh token
    assert.equal((await me(srv, p.access_token)).status, 200);
    assert.equal((await me(srv, l.access_token)).status, 200, 'the session was not revoked');
    const next = await refresh(srv, p.refresh_token);
    assert.equal(next.status, 200, next.text);
    assert.equal((await me(srv, next.json.access_token)).status, 200);
    // one rotation happened per token, and no theft was recorded
    assert.equal((await auditOf(srv, 'auth.refresh', sid)).length, 2);
    assert.equal((await auditOf(srv, 'auth.refresh_reuse', sid)).length, 0);
  });

  test('a retry moments later (the first answer was lost) gets the same pair', async () => {
    const l = await login(srv.url, 'agent2@acme.test');
    const a = await refresh(srv, l.refresh_token);
    assert.equal(a.status, 200, a.text);
    const b = await refresh(srv, l.refresh_token);
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.refresh_token, a.json.refresh_token);
    assert.equal(b.json.access_token, a.json.access_token);
  });

  test('the grace does not bring back a logged-out session', async () => {
    const l = await login(srv.url, 'agent3@acme.test');
    const a = await refresh(srv, l.refresh_token);
    assert.equal(a.status, 200, a.text);
    const out = await api(srv.url, 'POST', '/api/v1/auth/logout', { token: a.json.access_token });
    assert.equal(out.status, 200, out.text);
    const again = await refresh(srv, l.refresh_token);
    assert.equal(again.status, 401, again.text);
    assert.equal((await refresh(srv, a.json.refresh_token)).status, 401);
  });

  test('an unknown or malformed refresh token is still 401/422', async () => {
    assert.equal((await refresh(srv, 'y'.repeat(43))).status, 401);
    assert.equal((await api(srv.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: 7 } })).status, 422);
  });
});

describe('short grace', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--refresh-grace', '1s'] }); });
  after(async () => { await srv?.cleanup(); });

  test('a reuse after the grace is theft: the whole session is revoked and audited', async () => {
    const l = await login(srv.url, 'agent4@acme.test');
    const sid = decodeJwt(l.access_token).sid;
    const a = await refresh(srv, l.refresh_token);
    assert.equal(a.status, 200, a.text);
    await sleep(1500);
    const late = await refresh(srv, l.refresh_token);
    assert.equal(late.status, 401, late.text);
    assert.equal((await refresh(srv, a.json.refresh_token)).status, 401, 'the new refresh token is revoked');
    assert.equal((await me(srv, a.json.access_token)).status, 401, 'the new access token is revoked');
    assert.equal((await auditOf(srv, 'auth.refresh_reuse', sid)).length, 1);
  });
});

describe('no grace', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--refresh-grace', '0'] }); });
  after(async () => { await srv?.cleanup(); });

  test('--refresh-grace 0: an immediate reuse revokes the session', async () => {
    const l = await login(srv.url, 'agent5@acme.test');
    const a = await refresh(srv, l.refresh_token);
    assert.equal(a.status, 200, a.text);
    assert.equal((await refresh(srv, l.refresh_token)).status, 401);
    assert.equal((await me(srv, a.json.access_token)).status, 401);
  });
});

test('--refresh-grace above 60s is a configuration error (exit 2)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { BIN } = await import('./lib/server.mjs');
  const r = spawnSync(BIN, ['serve', '--db', 'sqlite::memory:', '--listen', '127.0.0.1:0', '--refresh-grace', '2m'],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /refresh_grace/);
});
