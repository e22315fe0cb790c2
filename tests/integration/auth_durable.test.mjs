// Revocations outlive the process (issue: one system across restarts): a logged-out token, a
// token of a session whose refresh token was reused, a token issued before a password change
// and the tokens of a "log out everywhere" stay refused after a restart, on HTTP and on the
// WebSocket upgrade, while fresh logins work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, api, login } from './lib/server.mjs';

let s;
before(async () => { s = await startServer({ args: ['--login-attempts', '100'] }); });
after(async () => { await s?.cleanup(); });

const me = async (t) => (await api(s.url, 'GET', '/api/v1/me', { token: t })).status;

// The status of a WebSocket upgrade with this token: 101 when accepted, else the HTTP status.
function upgrade(token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${s.wsUrl}/websocket?apikey=${encodeURIComponent(token)}&vsn=1.0.0`);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('upgrade timed out')); }, 5000);
    ws.once('open', () => { clearTimeout(timer); ws.close(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); res.resume(); ws.terminate(); resolve(res.statusCode); });
    ws.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

test('revoked sessions stay revoked after a restart; live ones keep working', async () => {
  const loggedOut = await login(s.url, 'agent1@acme.test');
  const kept = await login(s.url, 'agent1@acme.test');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/logout', { token: loggedOut.access_token })).status, 200);

  // Refresh reuse: the first refresh token is presented twice, the family dies.
  const stolen = await login(s.url, 'agent2@acme.test');
  const r1 = await api(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: stolen.refresh_token } });
  assert.equal(r1.status, 200);
  await new Promise((r) => setTimeout(r, 6000)); // past any reuse grace for concurrent refreshes
  const r2 = await api(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: stolen.refresh_token } });
  assert.equal(r2.status, 401);

  // Password change by the tenant admin.
  const victim = await login(s.url, 'agent3@acme.test');
  const admin = await login(s.url, 'admin@acme.test');
  const vid = victim.user.id;
  const pw = await api(s.url, 'PATCH', `/api/v1/users/${vid}`, { token: admin.access_token, body: { password: 'a-new-password-123' } });
  assert.equal(pw.status, 200, pw.text);

  // Log out everywhere.
  const e1 = await login(s.url, 'agent4@acme.test');
  const e2 = await login(s.url, 'agent4@acme.test');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/logout', { token: e1.access_token, body: { everywhere: true } })).status, 200);

  const revoked = [loggedOut.access_token, stolen.access_token, r1.json.access_token, victim.access_token,
    e1.access_token, e2.access_token];
  for (const t of revoked) assert.equal(await me(t), 401);
  assert.equal(await me(kept.access_token), 200);

  await s.restart();

  for (const t of revoked) {
    assert.equal(await me(t), 401, 'a revoked token is refused after the restart');
    assert.equal(await upgrade(t), 401, 'and its WebSocket upgrade too');
  }
  assert.equal(await me(kept.access_token), 200, 'a live session survives the restart');
  assert.equal(await upgrade(kept.access_token), 101);
  assert.equal(await me(admin.access_token), 200);
  // Fresh logins work, with the new password for the victim.
  assert.equal(await me((await login(s.url, 'agent4@acme.test')).access_token), 200);
  assert.equal(await me((await login(s.url, 'agent3@acme.test', 'a-new-password-123')).access_token), 200);
  const old = await api(s.url, 'POST', '/api/v1/auth/login', { body: { email: 'agent3@acme.test', password: 'demo-password' } });
  assert.equal(old.status, 401);
});
